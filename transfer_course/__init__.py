"""A Jupyter-first course on transfer learning with pretrained CNNs, with graded exercises

Modules:

- `transfer_course.scrape`: Turn a list of web image URLs into a clean, de-duplicated, split image dataset, with a manifest that says what happened to every URL.
- `transfer_course.testing.web`: A small web on 127.0.0.1 that serves real photos and misbehaves in every way the real web does, on demand; a forward proxy that counts what it forwards. For tests, benchmarks and the scraping lesson's demos.
- `transfer_course.web`: `fetch_url`: one image URL in, its bytes or a short reason out. A kept `requests` session does redirects, proxies and certificates; this module adds a per-URL deadline (name lookup included), retries and a size cap."""

__version__ = "0.1.0"
