"""transfer_course.web.fetch_url against real loopback servers: HTTPS with a test certificate authority (trustme),
an untrusted certificate refused with a clear reason, a forward proxy taken from the environment (plain HTTP and
CONNECT tunnels), a slow or failing name lookup bounded by the deadline, and a kept session reusing connections."""
import os, socket, ssl, tempfile, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

from transfer_course.core import find_dataset
from transfer_course.testing.web import ForwardProxy, MockWeb
from transfer_course.web import fetch_url, new_session

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    "No proxy or CA bundle from the machine running the tests: each test sets what it needs."
    for name in PROXY_VARIABLES: monkeypatch.delenv(name, raising=False); monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(scope="module")
def photos():
    return sorted((find_dataset("clothing_small_5cls")/"train"/"hat").glob("*.jpg"))[:8]


@pytest.fixture(scope="module")
def authority():
    return trustme.CA()


@pytest.fixture(scope="module")
def bundle(authority, tmp_path_factory):
    "The test authority's certificate as a CA bundle file, what a client is told to trust."
    path = tmp_path_factory.mktemp("ca")/"ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return path


def server_context(authority) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def https_web(photos, authority):
    with MockWeb(photos, tls=server_context(authority)) as web: yield web


@pytest.fixture(scope="module")
def http_web(photos):
    with MockWeb(photos) as web: yield web


def test_https_with_a_trusted_test_authority(https_web, bundle, photos):
    assert https_web.base_url.startswith("https://")
    fetched = fetch_url(https_web.url("photo/0.jpg"), session=new_session(verify=str(bundle)))
    assert (fetched.ok, fetched.reason, fetched.http_status) == (True, "", 200)
    assert fetched.data == photos[0].read_bytes()


def test_https_redirects_and_retries(https_web, bundle, photos):
    session = new_session(verify=str(bundle))
    assert fetch_url(https_web.url("redirect/2/1.jpg"), session=session).data == photos[1].read_bytes()
    flaky = fetch_url(https_web.url("flaky/1/2.jpg"), session=session, backoff=0.05)
    assert flaky.ok and flaky.attempts == 2


def test_untrusted_certificate_is_refused_with_a_clear_reason(https_web):
    "The server's certificate comes from a CA this client does not trust (its own, unrelated test CA)."
    stranger = trustme.CA()
    with tempfile.TemporaryDirectory() as folder:
        other = os.path.join(folder, "other.pem"); stranger.cert_pem.write_to_path(other)
        fetched = fetch_url(https_web.url("photo/0.jpg"), session=new_session(verify=other), retries=3)
    assert not fetched.ok and fetched.reason == "certificate-verify-failed"
    assert fetched.detail.startswith("certificate verify failed:") and "issuer" in fetched.detail, fetched.detail
    assert fetched.attempts == 1  # not worth retrying


def test_default_trust_store_refuses_a_test_certificate(https_web):
    fetched = fetch_url(https_web.url("photo/0.jpg"))  # the shared session trusts only the system's authorities
    assert fetched.reason == "certificate-verify-failed", fetched


def test_a_bundle_given_to_the_session_beats_the_environment(https_web, bundle, photos, monkeypatch):
    "REQUESTS_CA_BUNDLE (set on many machines) must not override the CA bundle a caller passes explicitly."
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ssl.get_default_verify_paths().openssl_cafile or "/nonexistent.pem")
    assert fetch_url(https_web.url("photo/1.jpg"), session=new_session(verify=str(bundle))).ok


def test_ca_bundle_from_the_environment_is_honoured(https_web, bundle, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert fetch_url(https_web.url("photo/1.jpg"), session=new_session()).ok


def test_certificate_for_another_name_is_refused(photos, authority, bundle):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("images.example").configure_cert(context)
    with MockWeb(photos, tls=context) as web:
        fetched = fetch_url(web.url("photo/0.jpg"), session=new_session(verify=str(bundle)))
    assert fetched.reason == "certificate-verify-failed" and "127.0.0.1" in fetched.detail, fetched.detail


def test_http_proxy_from_the_environment(http_web, photos, monkeypatch):
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        fetched = fetch_url(http_web.url("photo/3.jpg"), session=new_session())
        assert fetched.data == photos[3].read_bytes()
        assert proxy.requests == [("GET", http_web.url("photo/3.jpg"))]
        redirected = fetch_url(http_web.url("redirect/1/4.jpg"), session=new_session())
        assert redirected.data == photos[4].read_bytes() and len(proxy.requests) == 3  # each hop via the proxy


def test_https_through_a_connect_tunnel(https_web, bundle, photos, monkeypatch):
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        fetched = fetch_url(https_web.url("photo/5.jpg"), session=new_session(verify=str(bundle)))
        assert fetched.data == photos[5].read_bytes()
        assert proxy.requests == [("CONNECT", https_web.base_url.removeprefix("https://"))]


def test_no_proxy_bypasses_the_proxy(http_web, monkeypatch):
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url); monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert fetch_url(http_web.url("photo/0.jpg"), session=new_session()).ok and proxy.requests == []


def test_proxy_that_is_down_is_named(http_web, monkeypatch):
    with socket.socket() as probe: probe.bind(("127.0.0.1", 0)); port = probe.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    fetched = fetch_url(http_web.url("photo/0.jpg"), session=new_session(), retries=1, backoff=0.05)
    assert fetched.reason == "proxy-error" and fetched.attempts == 2


def test_trickle_through_a_tunnel_stops_at_the_deadline(https_web, bundle, monkeypatch):
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        fetched = fetch_url(https_web.url("trickle/0.jpg"), timeout=5, deadline=1.0, session=new_session(verify=str(bundle)))
    assert fetched.reason == "deadline" and fetched.seconds < 1.5, fetched


@pytest.fixture
def slow_resolver(monkeypatch, http_web):
    "getaddrinfo that takes `delay[name]` seconds for the fake names, then answers 127.0.0.1; fails for 'nowhere.test'."
    real, delay = socket.getaddrinfo, {"slow.test": 5.0, "sluggish.test": 0.3}
    def getaddrinfo(host, port, *args, **kwargs):
        if host == "nowhere.test": raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if host in delay:
            time.sleep(delay[host]); return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    port = http_web.server.server_address[1]
    return lambda name, path: f"http://{name}:{port}/{path}"


def test_slow_name_lookup_is_bounded_by_the_deadline(slow_resolver):
    start = time.monotonic()
    fetched = fetch_url(slow_resolver("slow.test", "photo/0.jpg"), timeout=10, deadline=1.0, session=new_session())
    elapsed = time.monotonic() - start
    assert fetched.reason == "deadline" and "slow.test" in fetched.detail, fetched
    assert 0.9 <= elapsed < 1.3, elapsed  # not the resolver's 5 s, nor the 10 s timeout


def test_slow_name_lookup_within_the_deadline_succeeds(slow_resolver, photos):
    fetched = fetch_url(slow_resolver("sluggish.test", "photo/1.jpg"), deadline=3.0, session=new_session())
    assert fetched.data == photos[1].read_bytes() and fetched.seconds >= 0.3


def test_unknown_name_is_a_dns_error(slow_resolver):
    fetched = fetch_url(slow_resolver("nowhere.test", "photo/0.jpg"), session=new_session())
    assert (fetched.reason, fetched.attempts) == ("dns-error", 1) and "nowhere.test" in fetched.detail, fetched


def test_kept_session_reuses_its_connection(photos):
    "A keep-alive server sees one connection for several downloads through one session."
    connections = []
    class KeepAlive(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *args): pass
        def setup(self): super().setup(); connections.append(self.client_address)
        def do_GET(self):
            body = photos[int(self.path.strip("/"))].read_bytes()
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body)
    server = ThreadingHTTPServer(("127.0.0.1", 0), KeepAlive); server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        session, base = new_session(), f"http://127.0.0.1:{server.server_address[1]}"
        for index in range(4): assert fetch_url(f"{base}/{index}", session=session).data == photos[index].read_bytes()
    finally: server.shutdown(); server.server_close()
    assert len(connections) == 1, connections


def test_deadline_still_applies_on_a_kept_connection(http_web):
    "The second fetch reuses nothing here (HTTP/1.0 server), but the deadline must hold on every socket it uses."
    session = new_session()
    assert fetch_url(http_web.url("photo/0.jpg"), session=session).ok
    fetched = fetch_url(http_web.url("trickle/0.jpg"), timeout=5, deadline=0.8, session=session)
    assert fetched.reason == "deadline" and fetched.seconds < 1.3
