"""Item 2 of issue 10, the public surface: Debian's nginx, started on a free loopback
port with the shipped configuration (deploy/nginx/) templated to the stack's ports,
lets through exactly the chat transport, the platform webhooks and the web app's
public pages, with body size limits; everything else (Rasa's API, the web app's
health, the action server) is refused by the proxy itself.

nginx is installed when missing (apt-get, as root: `.ci/run` is); the tests are
skipped, saying why, only when it cannot be installed."""
from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator, Optional, Tuple

import pytest

from bot.config import ROOT
from tests.e2e.conftest import free_port
from tests.security.conftest import http

pytestmark = pytest.mark.e2e

DEPLOY = ROOT / "deploy" / "nginx"
REFUSED_MARK = b"<center>nginx</center>"  # nginx's own error page: the proxy answered, not a backend
TOKEN_LIKE = "A" * 43  # the shape of a link secret (token_urlsafe(32)); unknown to the app
BADGE_ID = "0b1e3c1e-2b7a-4c43-9a53-6f6ad1f0c0de"


def nginx_binary() -> Tuple[Optional[str], str]:
    """(path to nginx, why not): installs Debian's nginx-light (else nginx) when missing."""
    def find() -> Optional[str]:
        return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)

    found = find()
    if found:
        return found, ""
    if not shutil.which("apt-get"):
        return None, "nginx is not installed and there is no apt-get to install it"
    if os.geteuid() != 0:
        return None, "nginx is not installed and installing it needs root (apt-get install nginx-light)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "-o", "DPkg::Lock::Timeout=600"]
    for attempt in (["nginx-light"], ["nginx"], "update", ["nginx-light"], ["nginx"]):
        args = ["apt-get", "update", "-qq"] if attempt == "update" else [*install, *attempt]
        subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
        found = find()
        if found:
            return found, ""
    return None, "nginx could not be installed with apt-get (nginx-light or nginx)"


def render(folder: Path, port: int, rasa_port: int, web_port: int, rest: bool) -> Path:
    """A complete nginx.conf around the shipped files: the http-level part of
    deploy/nginx/atouts.conf (maps, upstreams) with the stack's ports, and a plain-HTTP
    server on ``port`` including the shipped public surface (atouts-locations.conf, and
    atouts-rest.conf when the REST channel is enabled)."""
    site = (DEPLOY / "atouts.conf").read_text(encoding="utf-8")
    head, marker, _ = site.partition("# --- servers")
    assert marker, "deploy/nginx/atouts.conf: the '# --- servers' line separates the http-level part"
    assert "server 127.0.0.1:5005" in head and "server 127.0.0.1:8080" in head
    head = (head.replace("server 127.0.0.1:5005", f"server 127.0.0.1:{rasa_port}")
                .replace("server 127.0.0.1:8080", f"server 127.0.0.1:{web_port}"))
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    rest_include = f"include {DEPLOY / 'atouts-rest.conf'};" if rest else ""
    conf = folder / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 128; }}
http {{
    default_type application/octet-stream;
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
{head}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        {rest_include}
        include {DEPLOY / 'atouts-locations.conf'};
    }}
}}
""", encoding="utf-8")
    return conf


class Proxy:
    def __init__(self, binary: str, folder: Path, stack, rest: bool) -> None:
        self.port = free_port()
        self.folder = folder
        conf = render(folder, self.port, stack.config.rasa_port, stack.config.web_port, rest)
        check = subprocess.run([binary, "-t", "-p", str(folder), "-c", str(conf)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen([binary, "-p", str(folder), "-c", str(conf), "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError((folder / "error.log").read_text() if (folder / "error.log").exists() else "")
                time.sleep(0.2)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def nginx() -> str:
    binary, why = nginx_binary()
    if binary is None:
        pytest.skip(why)
    return binary


@pytest.fixture(scope="module")
def proxy(nginx, stack, tmp_path_factory) -> Iterator[Proxy]:
    p = Proxy(nginx, tmp_path_factory.mktemp("nginx"), stack, rest=False)
    yield p
    p.stop()


@pytest.fixture(scope="module")
def proxy_with_rest(nginx, stack, tmp_path_factory) -> Iterator[Proxy]:
    p = Proxy(nginx, tmp_path_factory.mktemp("nginx-rest"), stack, rest=True)
    yield p
    p.stop()


def direct(stack, service: str) -> str:
    port = {"rasa": stack.config.rasa_port, "web": stack.config.web_port,
            "actions": stack.config.actions_port}[service]
    return f"http://127.0.0.1:{port}"


def refused(status: int, body: bytes) -> bool:
    return status in (403, 404) and REFUSED_MARK in body


# --- what the internet may reach ---------------------------------------------------------

WEB_PAGES = ["/", "/widget", "/widget.js", "/static/chat.css", "/static/widget-frame.js",
             "/referentiel/organisation", "/issuer", "/.well-known/jwks.json", "/status/1",
             f"/badges/{BADGE_ID}", f"/badges/{BADGE_ID}/image.svg", f"/referent/{TOKEN_LIKE}",
             f"/mes-donnees/{TOKEN_LIKE}", f"/partenaires/{TOKEN_LIKE}"]


@pytest.mark.parametrize("path", WEB_PAGES)
def test_the_web_apps_public_pages_go_through(stack, proxy, path) -> None:
    status, body, headers = http("GET", proxy.url + path)
    d_status, d_body, d_headers = http("GET", direct(stack, "web") + path)
    assert not refused(status, body), path
    assert (status, headers.get("Content-Type")) == (d_status, d_headers.get("Content-Type")), path


def test_the_chat_transport_goes_through(proxy) -> None:
    status, body, _ = http("GET", proxy.url + "/socket.io/?EIO=4&transport=polling")
    assert status == 200 and body.startswith(b"0{") and b'"sid"' in body, body[:200]
    # the websocket upgrade too (what the widget uses once connected)
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as conn:
        conn.sendall((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{proxy.port}\r\n"
                      f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 101"), answer[:200]


def test_the_platform_webhooks_go_through(stack, proxy, fake_telegram, fake_graph) -> None:
    telegram = "/webhooks/telegram/webhook"
    for headers in ({"X-Telegram-Bot-Api-Secret-Token": fake_telegram.secret}, {}):
        through = http("POST", proxy.url + telegram, {}, headers=headers)
        straight = http("POST", direct(stack, "rasa") + telegram, {}, headers=headers)
        assert not refused(*through[:2]) and through[:2] == straight[:2], (through[:2], straight[:2])
    assert through[0] == 403  # the channel's own secret check answered
    challenge = ("/webhooks/messenger/webhook?hub.mode=subscribe"
                 f"&hub.verify_token={fake_graph.verify_token}&hub.challenge=4242")
    assert http("GET", proxy.url + challenge)[:2] == (200, b"4242")
    status, body, _ = http("POST", proxy.url + "/webhooks/messenger/webhook", {"object": "page"},
                           headers={"X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert status == 403 and not refused(status, body)  # refused by the signature check, behind the proxy


def test_the_rest_channel_goes_through_only_when_enabled(proxy, proxy_with_rest) -> None:
    message = {"sender": "proxy-rest", "message": "/greet"}
    status, body, _ = http("POST", proxy.url + "/webhooks/rest/webhook", message)
    assert refused(status, body), (status, body[:200])
    status, body, _ = http("POST", proxy_with_rest.url + "/webhooks/rest/webhook", message)
    assert status == 200 and b"text" in body, body[:200]


# --- what it may not ------------------------------------------------------------------

REFUSED = [
    ("rasa", "GET", "/status"), ("rasa", "GET", "/version"), ("rasa", "GET", "/domain"),
    ("rasa", "GET", "/conversations/victim/tracker"), ("rasa", "POST", "/conversations/victim/tracker/events"),
    ("rasa", "POST", "/conversations/victim/trigger_intent"), ("rasa", "POST", "/conversations/victim/messages"),
    ("rasa", "PUT", "/model"), ("rasa", "DELETE", "/model"), ("rasa", "POST", "/model/train"),
    ("rasa", "POST", "/model/parse"), ("rasa", "GET", "/webhooks/telegram/"), ("rasa", "GET", "/webhooks/rest/"),
    ("rasa", "GET", "/webhooks/socketio/"),
    ("web", "GET", "/health"),
    ("actions", "POST", "/webhook"), ("actions", "GET", "/actions"), ("actions", "GET", "/health"),
]
TRICKS = ["/static/../health", "/static/%2e%2e/health", "/socket.io/../status", "//status", "/STATUS",
          "/status/", "/status/../version", "/webhooks/telegram/webhook/../../../status",
          "/conversations%2fvictim%2ftracker", "/referent/../model/parse", "/.well-known/../status"]


@pytest.mark.parametrize("service,method,path", REFUSED, ids=[f"{s} {m} {p}" for s, m, p in REFUSED])
def test_everything_else_is_refused_by_the_proxy(stack, proxy, service, method, path) -> None:
    body = {} if method in ("POST", "PUT") else None
    status, answer, _ = http(method, proxy.url + path, body)
    assert refused(status, answer), (method, path, status, answer[:200])
    d_status, d_answer, _ = http(method, direct(stack, service) + path, body)
    assert not refused(d_status, d_answer)  # the backend itself would have answered


@pytest.mark.parametrize("path", TRICKS)
def test_path_tricks_do_not_reach_the_api(proxy, path) -> None:
    status, body, _ = http("GET", proxy.url + path)
    assert status in (400, 403, 404), (path, status, body[:200])
    assert b"model_file" not in body and b"version" not in body.lower() and b'"status"' not in body


def test_request_bodies_are_limited(proxy) -> None:
    big = b"x" * (2 * 1024 * 1024)
    for path in (f"/referent/{TOKEN_LIKE}", "/webhooks/telegram/webhook", "/webhooks/messenger/webhook",
                 "/socket.io/?EIO=4&transport=polling"):
        status, _, _ = http("POST", proxy.url + path, raw=big, headers={"Content-Type": "application/octet-stream"})
        assert status == 413, (path, status)


def test_the_shipped_production_site_is_valid_nginx(nginx, tmp_path) -> None:
    """deploy/nginx/atouts.conf as an operator installs it (TLS, both includes), checked
    by `nginx -t` with a throw-away certificate in place of Let's Encrypt's."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a throw-away certificate")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=atouts.example.org", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem")], check=True, capture_output=True)
    site = (DEPLOY / "atouts.conf").read_text(encoding="utf-8")
    site = (site.replace("/etc/letsencrypt/live/atouts.example.org/fullchain.pem", str(tmp_path / "cert.pem"))
                .replace("/etc/letsencrypt/live/atouts.example.org/privkey.pem", str(tmp_path / "key.pem"))
                .replace("/etc/nginx/atouts/", f"{DEPLOY}/")
                .replace("# include ", "include "))
    (tmp_path / "site.conf").write_text(site, encoding="utf-8")
    temp = " ".join(f"{name}_temp_path {tmp_path}/{name};" for name in ("client_body", "proxy", "fastcgi",
                                                                       "uwsgi", "scgi"))
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log; events {{}}\n"
        f"http {{ access_log off; {temp} include {tmp_path}/site.conf; }}\n", encoding="utf-8")
    check = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
