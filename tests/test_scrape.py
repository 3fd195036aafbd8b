"""The scraper against a real HTTP server on 127.0.0.1 (transfer_course.testing.web.MockWeb) serving real photos and
every failure mode of the issue: one scrape of the whole catalogue, checked URL by URL, plus focused tests for the
deadline, atomic writes, content-hash names, resume, max-pics, near-duplicates and the split."""
import hashlib, io, ssl, time
from pathlib import Path

import pytest
import trustme
from PIL import Image

from transfer_course.core import find_dataset
from transfer_course.scrape import (MANIFEST_NAME, ImageRejected, ScrapeOptions, hamming, phash, read_manifest,
                                    read_url_list, scrape_images, split_dataset, verify_image)
from transfer_course.testing.web import ForwardProxy, MockWeb, encode_image, photo_variant
from transfer_course.web import fetch_url

QUICK = ScrapeOptions(timeout=2.0, deadline=3.0, backoff=0.05, max_bytes=5 * 2**20)


@pytest.fixture(scope="module")
def photos():
    clothing = find_dataset("clothing_small_5cls")/"train"
    return sorted((clothing/"hat").glob("*.jpg"))[:24] + sorted((clothing/"shoes").glob("*.jpg"))[:16]


@pytest.fixture(scope="module")
def web(photos):
    with MockWeb(photos, trickle_interval=0.2) as server: yield server


@pytest.fixture(scope="module")
def catalogue(web):
    return web.catalogue(good=range(12), spare=range(12, 24))


@pytest.fixture(scope="module")
def scraped(web, catalogue, tmp_path_factory):
    "One scrape of the whole catalogue, with repeats, comments and blank lines in the list."
    root = tmp_path_factory.mktemp("scraped")
    lines = ["# a comment", ""] + [case.url for case in catalogue] + [catalogue[0].url, "   ", catalogue[5].url + "  # repeated"]
    (root/"urls.txt").write_text("\n".join(lines) + "\n")
    report = scrape_images(root/"urls.txt", root/"hat", options=QUICK, keep_rejects=root/"rejects", progress=False)
    return root, report


def test_every_url_exactly_once_in_list_order(scraped, catalogue):
    root, report = scraped
    rows = read_manifest(root/"hat"/MANIFEST_NAME)
    assert [row.url for row in rows] == [case.url for case in catalogue]
    assert rows == list(report.rows)


@pytest.mark.parametrize("index", range(40))
def test_each_case_gets_its_expected_outcome(scraped, catalogue, index):
    assert len(catalogue) == 40  # one test per case: update the range above when cases are added
    case, row = catalogue[index], scraped[1].rows[index]
    assert (row.status, row.reason) == (case.status, case.reason), f"{case.case}: {case.url}"


def test_slow_cases_were_cut_at_the_deadline(scraped, catalogue):
    rows = {row.url: row for row in scraped[1].rows}
    for case in catalogue:
        if case.reason in ("deadline", "timeout"): assert rows[case.url].seconds <= QUICK.deadline + 0.5, case
    assert scraped[1].seconds < 12


def test_folder_holds_only_complete_images_named_by_content(scraped):
    root, report = scraped
    files = sorted(p.name for p in (root/"hat").iterdir())
    saved = [row for row in report.rows if row.status == "saved"]
    assert files == sorted([MANIFEST_NAME] + [row.file for row in saved])  # no .tmp, no partial, no rejects
    for row in saved:
        data = (root/"hat"/row.file).read_bytes()
        image = Image.open(io.BytesIO(data)); image.load()
        assert image.mode == "RGB" and (image.width, image.height) == (row.width, row.height)
        assert row.file.startswith(hashlib.sha256(data).hexdigest()[:16]) or row.file.startswith(row.sha256[:16])
        assert row.file.startswith(row.sha256[:16])
        assert Path(row.file).suffix == {"JPEG": ".jpg", "PNG": ".png"}[image.format]


def test_extension_comes_from_decoding_not_from_url_or_content_type(scraped, catalogue):
    rows = {row.url: row for row in scraped[1].rows}
    as_png = next(case for case in catalogue if "/as-png/" in case.url)
    no_ext = next(case for case in catalogue if case.case.startswith("no extension"))
    assert rows[as_png.url].file.endswith(".jpg") and rows[no_ext.url].file.endswith(".jpg")


def test_original_bytes_kept_for_plain_jpegs(scraped, photos):
    root, report = scraped
    assert (root/"hat"/report.rows[0].file).read_bytes() == photos[0].read_bytes()
    assert report.rows[0].sha256 == hashlib.sha256(photos[0].read_bytes()).hexdigest()


def test_duplicates_point_at_the_kept_file(scraped, catalogue):
    rows = {row.url: row for row in scraped[1].rows}
    copy = next(case for case in catalogue if "/copy/" in case.url)
    resized = next(case for case in catalogue if "/resized/" in case.url)
    assert rows[copy.url].duplicate_of == scraped[1].rows[0].file
    assert rows[resized.url].duplicate_of == scraped[1].rows[1].file


def test_retries_and_redirects_are_counted(scraped, catalogue):
    rows = {row.url: row for row in scraped[1].rows}
    flaky = next(case for case in catalogue if "/flaky/" in case.url)
    server_error = next(case for case in catalogue if case.url.endswith("/status/500"))
    not_found = next(case for case in catalogue if case.url.endswith("/status/404"))
    assert rows[flaky.url].attempts == 3 and rows[server_error.url].attempts == 3 and rows[not_found.url].attempts == 1
    assert rows[server_error.url].http_status == 500


def test_resume_fetches_nothing_then_retry_failed_fetches_only_failures(scraped, web):
    root, first = scraped
    before = dict(web.hits)
    again = scrape_images(root/"urls.txt", root/"hat", options=QUICK, progress=False)
    assert again.fetched == 0 and dict(web.hits) == before and again.rows == first.rows
    retried = scrape_images(root/"urls.txt", root/"hat", options=QUICK, retry_failed=True, progress=False)
    assert retried.fetched == sum(row.status == "failed" for row in first.rows)
    assert web.hits["/status/404"] == before["/status/404"] + 1 and web.hits.get("/photo/0.jpg") == before.get("/photo/0.jpg")
    assert [(r.url, r.status, r.reason) for r in retried.rows] == [(r.url, r.status, r.reason) for r in first.rows]


def test_resume_refetches_a_saved_file_that_was_deleted(web, tmp_path):
    urls = [web.url(f"photo/{i}.jpg") for i in (24, 25)]
    first = scrape_images(urls, tmp_path/"d", options=QUICK, progress=False)
    (tmp_path/"d"/first.rows[0].file).unlink()
    second = scrape_images(urls, tmp_path/"d", options=QUICK, progress=False)
    assert second.fetched == 1 and (tmp_path/"d"/first.rows[0].file).exists()


def test_deadline_releases_a_worker_stuck_on_a_trickle(web, tmp_path):
    "With one worker, a trickling URL must not hold it beyond the deadline: the next URL still gets done."
    start = time.monotonic()
    report = scrape_images([web.url("trickle/3.jpg"), web.url("trickle-headers"), web.url("photo/3.jpg")], tmp_path/"one",
                           workers=1, options=ScrapeOptions(timeout=5.0, deadline=1.0), progress=False)
    assert [row.reason for row in report.rows] == ["deadline", "deadline", ""]
    assert time.monotonic() - start < 4.0


def test_fetch_url_deadline_counts_retries_and_backoff(web):
    start = time.monotonic()
    fetched = fetch_url(web.url("status/503"), timeout=5, deadline=1.0, retries=10, backoff=0.3)
    assert not fetched.ok and fetched.reason == "http-503" and time.monotonic() - start < 1.5
    assert fetched.attempts < 10


def test_hang_is_a_read_timeout(web):
    fetched = fetch_url(web.url("hang"), timeout=0.5, deadline=5.0)
    assert fetched.reason == "timeout" and fetched.seconds < 1.5


def test_max_pics_saves_exactly_n_and_raising_the_cap_continues(web, tmp_path):
    urls = [web.url(f"photo/{i}.jpg") for i in range(24, 34)]
    report = scrape_images(urls, tmp_path/"cap", max_pics=4, workers=2, options=QUICK, progress=False)
    assert report.counts()["saved"] == 4
    assert {row.reason for row in report.rows if row.status != "saved"} == {"max-pics"}
    assert len(list((tmp_path/"cap").glob("*.jpg"))) == 4
    more = scrape_images(urls, tmp_path/"cap", max_pics=10, workers=2, options=QUICK, progress=False)
    assert more.counts()["saved"] == 10 and more.fetched == 6


def test_near_duplicate_keeps_the_largest_even_when_listed_first(web, tmp_path):
    report = scrape_images([web.url("resized/26.jpg"), web.url("photo/26.jpg")], tmp_path/"nd", options=QUICK, progress=False)
    small, large = report.rows
    assert (small.status, small.reason, large.status) == ("duplicate", "near", "saved")
    assert small.duplicate_of == large.file and sorted(p.name for p in (tmp_path/"nd").iterdir()) == sorted([MANIFEST_NAME, large.file])


def test_distinct_photos_are_not_flagged_as_near_duplicates(photos):
    hashes = [phash(Image.open(p)) for p in photos]
    closest = min(hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1:])
    assert closest > 8, closest


def test_read_url_list_tolerates_comments_blanks_repeats(tmp_path):
    (tmp_path/"u.txt").write_text("\ufeff# c\n\nhttp://a/1.jpg\nhttp://a/2.jpg # note\n http://a/1.jpg\n")
    assert read_url_list(tmp_path/"u.txt") == ["http://a/1.jpg", "http://a/2.jpg"]


@pytest.mark.parametrize("kind", ["palette", "rgba", "cmyk", "gray", "animated"])
def test_conversions_give_rgb(photos, kind):
    verified = verify_image(photo_variant(photos[30].read_bytes(), kind)[0])
    assert verified.image.mode == "RGB" and verified.converted


def test_exif_orientation_is_applied(photos):
    image = Image.open(photos[0]).convert("RGB")
    exif = Image.Exif(); exif[0x0112] = 6  # "rotate 90 clockwise to display"
    data = encode_image(image, "JPEG", exif=exif.tobytes())
    verified = verify_image(data)
    assert verified.image.size == (image.height, image.width) and verified.converted


def test_animated_keeps_first_frame(photos):
    verified = verify_image(photo_variant(photos[30].read_bytes(), "animated")[0])
    first = Image.open(photos[30]).convert("RGB")
    assert hamming(phash(verified.image), phash(first)) <= 4


@pytest.mark.parametrize("make,reason", [
    (lambda d: d[: len(d) // 3], "truncated"), (lambda d: d[:-2], "truncated"), (lambda d: b"<html><body>404</body></html>", "html"),
    (lambda d: b"<svg xmlns='http://www.w3.org/2000/svg'/>", "svg"), (lambda d: b"\x00" * 5000, "not-an-image"),
    (lambda d: photo_variant(d, "tiny")[0], "too-small")])
def test_rejections(photos, make, reason):
    with pytest.raises(ImageRejected) as error: verify_image(make(photos[0].read_bytes()))
    assert error.value.reason == reason


def test_split_is_stratified_deterministic_and_leak_free(web, tmp_path, photos):
    raw = tmp_path/"raw"
    for label, indices in (("hat", range(0, 12)), ("shoes", range(24, 36))):
        scrape_images([web.url(f"photo/{i}.jpg") for i in indices], raw/label, options=QUICK, progress=False)
    # plant near-duplicates: a copy of a hat photo among the shoes, and a copy of a shoe among the shoes
    (raw/"shoes"/"zz_hat_copy.jpg").write_bytes(photo_variant(photos[5].read_bytes(), "resized")[0])
    (raw/"shoes"/"zz_shoe_copy.jpg").write_bytes(photo_variant(photos[30].read_bytes(), "resized")[0])
    split = split_dataset(raw, valid_pct=0.25, test_pct=0.25, seed=1)
    assert (split.groupby("group").split.nunique() > 1).sum() == 0
    counts = split.groupby(["label", "split"]).size().unstack(fill_value=0)
    for label in ("hat", "shoes"):
        assert counts.loc[label, "valid"] >= 2 and counts.loc[label, "test"] >= 2 and counts.loc[label, "train"] >= 5
    for row in split.itertuples():
        assert (tmp_path/"raw_split"/row.split/row.label/row.name).is_file()
    assert split_dataset(raw, valid_pct=0.25, test_pct=0.25, seed=1).values.tolist() == split.values.tolist()
    assert split_dataset(raw, valid_pct=0.25, test_pct=0.25, seed=2).split.tolist() != split.split.tolist()


def test_split_refuses_to_overwrite_a_foreign_folder(tmp_path, photos):
    (tmp_path/"raw"/"a").mkdir(parents=True); (tmp_path/"raw"/"a"/"x.jpg").write_bytes(photos[0].read_bytes())
    (tmp_path/"mine").mkdir(); (tmp_path/"mine"/"precious.txt").write_text("keep")
    with pytest.raises(FileExistsError): split_dataset(tmp_path/"raw", dest=tmp_path/"mine")
    assert (tmp_path/"mine"/"precious.txt").exists()


@pytest.fixture
def no_proxy_settings(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False); monkeypatch.delenv(name.lower(), raising=False)


def test_untrusted_https_certificate_is_named_in_the_manifest(photos, tmp_path, no_proxy_settings):
    "An HTTPS server whose certificate no system authority signed: failed, with the reason and the words why."
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
    with MockWeb(photos[:2], tls=context) as web:
        report = scrape_images([web.url("photo/0.jpg")], tmp_path/"tls", options=QUICK, progress=False)
    row = read_manifest(tmp_path/"tls"/MANIFEST_NAME)[0]
    assert (row.status, row.reason, row.attempts) == ("failed", "certificate-verify-failed", 1)
    assert row.detail.startswith("certificate verify failed:") and report.counts()["saved"] == 0


def test_scrape_goes_through_the_proxy_of_the_environment(web, tmp_path, monkeypatch, no_proxy_settings):
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        report = scrape_images([web.url("photo/30.jpg"), web.url("photo/31.jpg")], tmp_path/"p", options=QUICK,
                               progress=False)
    assert report.counts()["saved"] == 2
    assert sorted(proxy.requests) == [("GET", web.url("photo/30.jpg")), ("GET", web.url("photo/31.jpg"))]


def test_manifest_from_an_older_version_is_still_read(tmp_path):
    "Manifests written before the `detail` column existed load with an empty detail."
    (tmp_path/MANIFEST_NAME).write_text("url,status,reason,file,sha256,width,height,phash,duplicate_of,bytes,"
                                        "http_status,attempts,seconds\nhttp://a/1.jpg,failed,http-404,,,,,,,,404,1,0.1\n")
    row = read_manifest(tmp_path/MANIFEST_NAME)[0]
    assert (row.reason, row.http_status, row.attempts, row.width, row.detail) == ("http-404", 404, 1, None, "")
