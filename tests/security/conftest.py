"""Security tests (issue 10) run against the real stack: the end-to-end fixtures
(tests/e2e/conftest.py: Rasa, action server and web app on the trained model, REST
enabled for the tests) are shared here."""
from tests.e2e.conftest import Client, client, free_port, partner_ports, stack, store  # noqa: F401
from tests.fakes.engagement import fake_engagement  # noqa: F401 - fixtures
from tests.fakes.graph import fake_graph  # noqa: F401 - fixtures
from tests.fakes.telegram import fake_telegram  # noqa: F401 - fixtures
