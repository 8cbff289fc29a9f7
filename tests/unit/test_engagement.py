"""The API Engagement client against the local fake (tests/fakes/engagement.py)."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, List

import pytest

from bot.progress.engagement import (
    DEFAULT_BASE_URL,
    EngagementClient,
    EngagementError,
    MissionQuery,
    department_from_postcode,
    parse_mission,
    shared_client,
)
from tests.fakes.engagement import API_KEY, Failure, FakeEngagementApi, engagement_api, make_mission  # noqa: F401


def _client(api: FakeEngagementApi, **kwargs: Any) -> EngagementClient:
    options = dict(timeout_s=2, retries=3, backoff=(0, 0, 0), page_size=10)
    options.update(kwargs)
    return EngagementClient(api.url, options.pop("api_key", API_KEY), **options)


def _search(client: EngagementClient, query: MissionQuery, limit: int = 30) -> List:
    async def run() -> List:
        try:
            return await client.search(query, limit=limit)
        finally:
            await client.close()

    return asyncio.run(run())


def test_success_with_paging_and_documented_parameters(engagement_api: FakeEngagementApi) -> None:
    engagement_api.missions = [make_mission(i, softSkills=["Travail en équipe"]) for i in range(25)]
    client = _client(engagement_api)
    query = MissionQuery(keywords=("équipe",), postcode="75011", open_to_minors=True)
    engagement_api.missions += [make_mission(100 + i, openToMinors="yes", softSkills=["Travail en équipe"])
                                for i in range(23)]
    missions = _search(client, query, limit=30)
    assert [m.id for m in missions] == [f"64a1b2c3d4e5f6789abc{100 + i:04d}" for i in range(23)]
    reqs = engagement_api.requests
    assert [(r.get("skip"), r.get("limit")) for r in reqs] == [("0", "10"), ("10", "10"), ("20", "10")]
    first = reqs[0]
    assert first.path == "/v0/mission"
    assert first.headers["x-api-key"] == API_KEY
    assert first.get("keywords") == "équipe"
    assert first.get("departmentName") == "Paris"  # no postcode filter in v0: the department name
    assert first.get("openToMinors") == "yes"
    assert API_KEY not in str(first.params)
    m = missions[0]
    assert (m.title, m.organization, m.city, m.postcode, m.department) == (
        "Mission solidaire n°100", "Association de quartier", "Paris", "75011", "75")
    assert m.open_to_minors is True and m.remote is False and m.source == "api"
    assert m.url.startswith("https://www.jeveuxaider.gouv.fr/") and m.soft_skills == ("Travail en équipe",)


def test_paging_stops_at_limit(engagement_api: FakeEngagementApi) -> None:
    engagement_api.missions = [make_mission(i) for i in range(40)]
    missions = _search(_client(engagement_api), MissionQuery(), limit=15)
    assert len(missions) == 15
    assert [(r.get("skip"), r.get("limit")) for r in engagement_api.requests] == [("0", "10"), ("10", "5")]


def test_query_parameters_for_coordinates_city_and_remote() -> None:
    assert MissionQuery(lat=45.76, lon=4.84, distance_km=15).params() == [
        ("lat", "45.76000"), ("lon", "4.84000"), ("distance", "15km")]
    assert MissionQuery(city="Lyon", remote=True).params() == [
        ("city", "Lyon"), ("remote", "possible"), ("remote", "full")]
    assert MissionQuery(department="2a", remote=False).params() == [
        ("departmentName", "Corse-du-Sud"), ("remote", "no")]
    assert MissionQuery(postcode="97411").params() == [("departmentName", "La Réunion")]
    assert MissionQuery(open_to_minors=False).params() == []  # "only minors" filter, never "exclude"
    assert MissionQuery(keywords=(" Équipe ", "sport")).cache_key() == MissionQuery(keywords=("sport", "équipe")).cache_key()


def test_departments_from_postcodes() -> None:
    assert department_from_postcode("75011") == "75"
    assert department_from_postcode("20090") == "2A"
    assert department_from_postcode("20200") == "2B"
    assert department_from_postcode("97600") == "976"
    assert department_from_postcode("00000") is None and department_from_postcode("7501") is None


def test_cache_second_identical_search_makes_no_call(engagement_api: FakeEngagementApi) -> None:
    engagement_api.missions = [make_mission(i) for i in range(3)]
    client = _client(engagement_api)

    async def run() -> tuple:
        try:
            a = await client.search(MissionQuery(keywords=("Mission",), city="paris"))
            b = await client.search(MissionQuery(keywords=("mission ",), city="Paris"))
            client._clock = lambda: time.monotonic() + 3600  # the TTL has passed
            c = await client.search(MissionQuery(keywords=("mission",), city="Paris"))
            return a, b, c
        finally:
            await client.close()

    a, b, c = asyncio.run(run())
    assert a == b == c and len(a) == 3
    assert engagement_api.calls == 2 and client.http_calls == 2


@pytest.mark.parametrize("status", [429, 500, 503])
def test_retries_then_success(engagement_api: FakeEngagementApi, status: int) -> None:
    engagement_api.missions = [make_mission(1)]
    engagement_api.fail(Failure("status", status, retry_after="0" if status == 429 else None),
                        Failure("status", status))
    missions = _search(_client(engagement_api), MissionQuery())
    assert len(missions) == 1 and engagement_api.calls == 3


def test_429_retry_after_is_honoured(engagement_api: FakeEngagementApi) -> None:
    engagement_api.missions = [make_mission(1)]
    engagement_api.fail(Failure("status", 429, retry_after="1"))
    started = time.monotonic()
    assert len(_search(_client(engagement_api), MissionQuery())) == 1
    assert time.monotonic() - started >= 0.9 and engagement_api.calls == 2


def test_429_with_long_retry_after_gives_up_at_once(engagement_api: FakeEngagementApi) -> None:
    engagement_api.fail(Failure("status", 429, retry_after="120"))
    with pytest.raises(EngagementError) as err:
        _search(_client(engagement_api), MissionQuery())
    assert err.value.status == 429 and engagement_api.calls == 1


def test_giving_up_after_retries(engagement_api: FakeEngagementApi) -> None:
    engagement_api.fail(*[Failure("status", 503)] * 5)
    with pytest.raises(EngagementError) as err:
        _search(_client(engagement_api, retries=2), MissionQuery())
    assert err.value.status == 503 and "503" in err.value.reason
    assert engagement_api.calls == 3  # 1 try + 2 retries


def test_backoff_delays_are_used(engagement_api: FakeEngagementApi) -> None:
    engagement_api.missions = [make_mission(1)]
    engagement_api.fail(Failure("status", 500), Failure("status", 500))
    started = time.monotonic()
    _search(_client(engagement_api, backoff=(0.2, 0.3)), MissionQuery())
    assert time.monotonic() - started >= 0.45


def test_timeout_then_retry(engagement_api: FakeEngagementApi) -> None:
    engagement_api.missions = [make_mission(1)]
    engagement_api.fail(Failure("slow", delay=1.5))
    missions = _search(_client(engagement_api, timeout_s=0.3), MissionQuery())
    assert len(missions) == 1 and engagement_api.calls == 2


def test_timeouts_until_giving_up(engagement_api: FakeEngagementApi) -> None:
    engagement_api.fail(*[Failure("slow", delay=1.0)] * 2)
    with pytest.raises(EngagementError, match="délai"):
        _search(_client(engagement_api, timeout_s=0.2, retries=1), MissionQuery())


def test_connection_refused_is_retried_then_fails() -> None:
    client = EngagementClient("http://127.0.0.1:9", API_KEY, retries=1, backoff=(0,), timeout_s=1)
    with pytest.raises(EngagementError, match="connexion"):
        _search(client, MissionQuery())


@pytest.mark.parametrize("status", [400, 404])
def test_other_4xx_are_not_retried(engagement_api: FakeEngagementApi, status: int) -> None:
    engagement_api.fail(Failure("status", status))
    with pytest.raises(EngagementError) as err:
        _search(_client(engagement_api), MissionQuery())
    assert err.value.status == status and engagement_api.calls == 1


def test_wrong_key_is_401_without_retry(engagement_api: FakeEngagementApi) -> None:
    with pytest.raises(EngagementError) as err:
        _search(_client(engagement_api, api_key="wrong-key-1234"), MissionQuery())
    assert err.value.status == 401 and engagement_api.calls == 1
    assert "wrong-key-1234" not in str(err.value)


@pytest.mark.parametrize("kind", ["malformed", "shape"])
def test_malformed_or_unexpected_body(engagement_api: FakeEngagementApi, kind: str) -> None:
    engagement_api.fail(Failure(kind))
    with pytest.raises(EngagementError):
        _search(_client(engagement_api), MissionQuery())
    assert engagement_api.calls == 1


def test_empty_results(engagement_api: FakeEngagementApi) -> None:
    engagement_api.missions = [make_mission(1)]
    engagement_api.fail(Failure("empty"))
    assert _search(_client(engagement_api), MissionQuery()) == []
    assert engagement_api.calls == 1


def test_unusable_items_are_skipped_and_shapes_parsed_defensively() -> None:
    assert parse_mission("nope") is None
    assert parse_mission(make_mission(1, applicationUrl=None)) is None
    assert parse_mission(make_mission(1, applicationUrl="javascript:alert(1)")) is None
    assert parse_mission(make_mission(1, title="  ")) is None
    nested = make_mission(2, city=None, postalCode=None, departmentCode=None, remote="full", openToMinors=True,
                          softSkills=["Écoute", 3, ""], places="3",
                          addresses=[{"zip": "20600", "city": "Bastia"}])
    m = parse_mission(nested)
    assert m is not None and (m.city, m.postcode, m.department) == ("Bastia", "20600", "2B")
    assert m.remote is True and m.open_to_minors is True and m.soft_skills == ("Écoute",) and m.places is None
    assert parse_mission(make_mission(3, openToMinors=None)).open_to_minors is None
    assert parse_mission(make_mission(4, openToMinors="false")).open_to_minors is False


def test_key_never_in_logs_or_repr(engagement_api: FakeEngagementApi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    engagement_api.missions = [make_mission(1)]
    engagement_api.fail(Failure("status", 503), Failure("slow", delay=0.5), Failure("status", 429, retry_after="0"))
    client = _client(engagement_api, timeout_s=0.2)
    assert API_KEY not in repr(client)
    _search(client, MissionQuery(city="Paris"))
    engagement_api.fail(Failure("status", 400))
    with pytest.raises(EngagementError) as err:
        _search(_client(engagement_api), MissionQuery(city="Lyon"))
    assert API_KEY not in str(err.value)
    assert caplog.records, "the client logs its retries"
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
        assert API_KEY not in str(record.args)
    assert API_KEY not in caplog.text


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATOUTS_ENGAGEMENT_API_KEY", raising=False)
    assert EngagementClient.from_env() is None
    monkeypatch.setenv("ATOUTS_ENGAGEMENT_API_KEY", "k-123")
    monkeypatch.delenv("ATOUTS_ENGAGEMENT_API_URL", raising=False)
    client = EngagementClient.from_env()
    assert client is not None and client.base_url == DEFAULT_BASE_URL
    monkeypatch.setenv("ATOUTS_ENGAGEMENT_API_URL", "https://api.bac-a-sable.api-engagement.beta.gouv.fr/")
    assert EngagementClient.from_env().base_url == "https://api.bac-a-sable.api-engagement.beta.gouv.fr"
    with pytest.raises(ValueError):
        EngagementClient(DEFAULT_BASE_URL, "")
    assert EngagementClient(api_key="k-1").base_url == DEFAULT_BASE_URL


def test_shared_client_keeps_its_cache_across_close(engagement_api: FakeEngagementApi) -> None:
    engagement_api.missions = [make_mission(1)]
    assert shared_client(engagement_api.url, "") is None
    client = shared_client(engagement_api.url + "/", API_KEY, backoff=(0,))
    assert shared_client(engagement_api.url, API_KEY) is client

    async def turn() -> int:
        try:
            return len(await client.search(MissionQuery(city="Paris")))
        finally:
            await client.close()

    assert asyncio.run(turn()) == 1 and asyncio.run(turn()) == 1  # two chat turns, two event loops
    assert engagement_api.calls == 1


def test_date_filter_is_sent_as_documented() -> None:
    from datetime import date

    from bot.progress.engagement import MissionQuery

    params = MissionQuery(keywords=("accueil",), starts_after=date(2026, 12, 1)).params()
    assert ("startAt", ">2026-12-01") in params
    assert MissionQuery(starts_after=date(2026, 12, 1)).cache_key() != MissionQuery().cache_key()
