"""The SSRF guard of outbound HTTP, against real servers on loopback addresses."""

import pytest

from shoal.core import outbound

from .conftest import Receiver


@pytest.fixture
def second():
    """A server on 127.0.0.2: reachable on Linux, so a refusal is the guard's, not the network's."""
    r = Receiver("127.0.0.2")
    yield r
    r.close()


def test_a_loopback_address_other_than_127_0_0_1_is_refused(settings, second):
    settings.SHOAL_OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(outbound.BlockedAddress) as exc:
        outbound.request("GET", second.url + "/")
    assert exc.value.detail["reason"] == "loopback" and exc.value.retryable is False
    assert second.requests == []


def test_an_ipv4_mapped_ipv6_loopback_is_refused(settings, receiver):
    settings.SHOAL_OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(outbound.BlockedAddress) as exc:
        outbound.request("GET", f"http://[::ffff:127.0.0.1]:{receiver.port}/")
    assert "loopback" in exc.value.detail["reason"]
    assert receiver.requests == []


def test_a_decimal_spelling_of_loopback_is_refused_after_resolution(settings, receiver):
    settings.SHOAL_OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(outbound.BlockedAddress):
        outbound.request("GET", f"http://2130706433:{receiver.port}/")  # = 127.0.0.1
    assert receiver.requests == []


def test_a_name_resolving_to_a_private_address_is_refused(settings):
    settings.SHOAL_OUTBOUND_ALLOWED_NETWORKS = []
    asked = []

    def resolver(host, port):
        asked.append(host)
        return ["10.1.2.3"]

    with pytest.raises(outbound.BlockedAddress) as exc:
        outbound.request("GET", "http://intranet.example.test/", resolver=resolver)
    assert exc.value.detail == {"host": "intranet.example.test", "address": "10.1.2.3", "reason": "private"}
    assert asked == ["intranet.example.test"]


def test_one_refused_address_among_public_ones_refuses_the_name(settings):
    settings.SHOAL_OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(outbound.BlockedAddress):
        outbound.request("GET", "http://mixed.example.test/", resolver=lambda h, p: ["93.184.216.34", "169.254.169.254"])


@pytest.mark.parametrize("address", ["0.0.0.0", "169.254.169.254", "224.0.0.1", "240.0.0.1", "100.64.0.1", "::1",
                                     "fe80::1", "fc00::1", "::", "2002:7f00:1::", "64:ff9b::a00:1", "192.168.1.1"])
def test_every_non_global_kind_of_address_is_refused(settings, address):
    settings.SHOAL_OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(outbound.BlockedAddress):
        outbound.check_address("h", address)
    assert outbound.check_address("h", "93.184.216.34")  # a public one passes


def test_the_connection_goes_to_the_checked_address_and_keeps_the_name(allow_loopback, receiver):
    """No second lookup: the resolver is asked once and the request carries the name in Host."""
    asked = []

    def resolver(host, port):
        asked.append(host)
        return ["127.0.0.1"]

    response = outbound.request("GET", f"http://hooks.example.test:{receiver.port}/x?a=1", resolver=resolver)
    assert response.status_code == 200 and response.body == b"ok"
    assert asked == ["hooks.example.test"]
    assert receiver.requests[0]["headers"]["host"] == f"hooks.example.test:{receiver.port}"
    assert receiver.requests[0]["path"] == "/x?a=1"


def test_a_redirect_to_loopback_from_an_allowed_server_is_refused(settings, receiver, second):
    settings.SHOAL_OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the first server only
    receiver.answers = [(302, {"Location": f"{second.url}/internal"}, b"")]
    with pytest.raises(outbound.BlockedAddress):
        outbound.request("GET", receiver.url + "/start")
    assert len(receiver.requests) == 1 and second.requests == []


def test_redirects_are_followed_each_hop_checked_and_limited(allow_loopback, receiver, second):
    receiver.answers = [(307, {"Location": f"{second.url}/next"}, b"")]
    second.answers = [(200, {}, b"there")]
    response = outbound.request("POST", receiver.url + "/start", content=b"payload")
    assert response.body == b"there" and response.redirects == [f"{second.url}/next"]
    assert second.requests[0]["method"] == "POST" and second.requests[0]["body"] == b"payload"  # 307 keeps both
    receiver.answers = [(302, {"Location": "/again"}, b"")]  # a loop
    with pytest.raises(outbound.OutboundError) as exc:
        outbound.request("GET", receiver.url + "/loop", max_redirects=3)
    assert exc.value.code == "outbound_redirects"


def test_a_redirect_to_another_scheme_is_refused(allow_loopback, receiver):
    receiver.answers = [(302, {"Location": "file:///etc/passwd"}, b"")]
    with pytest.raises(outbound.OutboundError):
        outbound.request("GET", receiver.url + "/")


def test_an_answer_over_the_size_cap_is_refused_or_cut(allow_loopback, receiver):
    receiver.answers = [(200, {}, b"x" * 5000)]
    with pytest.raises(outbound.OutboundError) as exc:
        outbound.request("GET", receiver.url + "/", max_bytes=1000)
    assert exc.value.code == "outbound_too_large"
    cut = outbound.request("GET", receiver.url + "/", max_bytes=1000, truncate=True)
    assert cut.body == b"x" * 1000 and cut.truncated


def test_a_slow_server_times_out_as_retryable(allow_loopback, receiver):
    import time

    def slow(request):
        time.sleep(1.5)
        return 200, {}, b"late"

    receiver.handler = slow
    with pytest.raises(outbound.OutboundError) as exc:
        outbound.request("GET", receiver.url + "/", timeout=0.5)
    assert exc.value.code == "outbound_timeout" and exc.value.retryable


def test_a_literal_refused_address_is_refused_when_configured():
    from shoal.core.errors import ShoalError

    with pytest.raises(ShoalError) as exc:
        outbound.check_url("http://127.0.0.1:8000/hook")
    assert exc.value.code == "outbound_blocked"
    for bad in ("ftp://example.com/", "http:///nohost", "not a url", "javascript:alert(1)"):
        with pytest.raises(ShoalError):
            outbound.check_url(bad)
    assert outbound.check_url("https://example.com/hook?x=1")
