"Wrong answers to the exercises of lesson 2 (nbs/exercises/02_scrape.ipynb), each with the feedback it must get."
from tests.mutations import Mutation

FORBIDDEN = "which this exercise asks you not to use"


def _judge(*, markup: str = 'data.lstrip(b" \\t\\r\\n").removeprefix(b"\\xef\\xbb\\xbf").lstrip(b" \\t\\r\\n")[:1] == b"<"',
           decode: str = "image.load()", small: str = "min(image.size) < min_size") -> str:
    "judge_bytes, right except for the part given."
    return ("def judge_bytes(data, min_size=64):\n"
            f"    if {markup}: return 'html'\n"
            "    try: image = Image.open(io.BytesIO(data))\n"
            "    except UnidentifiedImageError: return 'not-an-image'\n"
            f"    try: {decode}\n"
            "    except OSError: return 'truncated'\n"
            f"    return 'too-small' if {small} else 'ok'\n")


def _copies(key: str, keep: str = "first.setdefault(k, url)") -> str:
    "exact_duplicates keyed by `key` (a function of url and data) instead of the bytes."
    return ("def exact_duplicates(downloads):\n"
            "    first, copies = {}, {}\n"
            "    for url, data in downloads.items():\n"
            f"        k = {key}\n"
            "        if k in first: copies[url] = first[k]\n"
            f"        {keep}\n"
            "    return copies\n")


def _split(group: str = "root(i)", near: str = "(a ^ hashes[j]).bit_count() <= threshold", rng: str = "random.Random(seed)",
           per_class_groups: bool = False) -> str:
    "leak_free_split, right except for the part given."
    owner = "labels[g] == label" if not per_class_groups else "True"
    return ("def leak_free_split(hashes, labels, valid_pct=0.25, threshold=8, seed=0):\n"
            "    parent = list(range(len(hashes)))\n"
            "    def root(i):\n"
            "        while parent[i] != i: i = parent[i]\n"
            "        return i\n"
            "    for i, a in enumerate(hashes):\n"
            "        for j in range(i + 1, len(hashes)):\n"
            + ("            if labels[i] != labels[j]: continue\n" if per_class_groups else "")
            + f"            if {near}: parent[max(root(i), root(j))] = min(root(i), root(j))\n"
            "    members = {}\n"
            f"    for i in range(len(hashes)): members.setdefault({group}, []).append(i)\n"
            f"    splits, rng = [None]*len(hashes), {rng}\n"
            "    for label in sorted(set(labels)):\n"
            f"        owned = sorted(g for g in members if {owner} and labels[members[g][0]] == label)\n"
            "        rng.shuffle(owned)\n"
            "        target, filled = round(valid_pct*sum(len(members[g]) for g in owned)), 0\n"
            "        for g in owned:\n"
            "            side = 'valid' if filled < target else 'train'\n"
            "            filled += len(members[g]) if side == 'valid' else 0\n"
            "            for i in members[g]: splits[i] = side\n"
            "    return splits\n")


MUTATIONS = {
    "judge_bytes": [
        Mutation(_judge(decode="pass"), why="accepts a truncated image: opens the header, never decodes the pixels",
                 message="reads only the header"),
        Mutation(_judge(decode="image.verify()"), why="PIL's verify() instead of decoding (a cut-off JPEG passes it)",
                 message="`verify()` does not decode the pixels"),
        Mutation(_judge(decode="image.load()\n    except Exception: return 'not-an-image'\n    try: pass"),
                 why="every decoding failure called not-an-image", message="truncated download"),
        Mutation(_judge(markup="False"), why="no markup check: an error page is left to PIL (not-an-image)",
                 message="an error page is markup"),
        Mutation(_judge(small="False"), why="no size check: thumbnails kept", message="smaller than `min_size`"),
        Mutation(_judge(small="min(image.size) <= min_size"), why="a photo exactly min_size wide called too small",
                 message="exactly `min_size` is big enough"),
        Mutation(_judge(small="min(image.size) < 64"), why="min_size ignored (64 hard-coded)",
                 message="smaller than `min_size`"),
        Mutation("from transfer_course.testing.web import sample_downloads as _sd\n"
                 "_known = {d: judge_bytes(d) for d in _sd(0)[0].values()}\n"
                 "def judge_bytes(data, min_size=64): return _known.get(data, 'ok')",
                 why="hard-codes the public answer (a table of the public downloads)", message="judged 'ok'"),
        Mutation("from transfer_course.scrape import verify_image, ImageRejected\n"
                 "def judge_bytes(data, min_size=64):\n"
                 "    try: verify_image(data, min_size); return 'ok'\n"
                 "    except ImageRejected as rejected: return rejected.reason\n",
                 why="delegates to the library's verify_image", message=FORBIDDEN),
        Mutation("import importlib\n_lib = importlib.import_module('transfer_course.scrape')\n"
                 "def judge_bytes(data, min_size=64):\n"
                 "    try: getattr(_lib, 'verify_image')(data, min_size); return 'ok'\n"
                 "    except ValueError as rejected: return rejected.reason\n",
                 why="verify_image through importlib and getattr", message=FORBIDDEN),
    ],
    "exact_duplicates": [
        Mutation(_copies("url.rsplit('/', 1)[-1]"), why="dedupes by file name", message="a name says nothing about the content"),
        Mutation(_copies("url"), why="dedupes by URL (finds no copy at all)", message="compare the content"),
        Mutation(_copies("len(data)"), why="dedupes by size in bytes", message="same length but different bytes"),
        Mutation(_copies("bytes(p >> 6 for p in Image.open(io.BytesIO(data)).convert('L').resize((4, 4)).tobytes()) "
                         "if judge_bytes(data) == 'ok' else data"),
                 why="dedupes by a perceptual fingerprint (near copies counted as exact)", message="near duplicate"),
        Mutation(_copies("hashlib.sha256(data).digest()", keep="first[k] = url"),
                 why="maps each copy to the latest earlier download with its bytes, not the first (the kept one)",
                 message="FIRST download"),
        Mutation("from transfer_course.testing.web import sample_downloads as _sd\n"
                 "_public = exact_duplicates(_sd(0)[0])\ndef exact_duplicates(downloads): return dict(_public)",
                 why="hard-codes the public answer", message="exact-copy download"),
        Mutation("import transfer_course.scrape as tcs\n"
                 "def exact_duplicates(downloads):\n"
                 "    rows = [tcs.ManifestRow(u, 'saved', file=u, sha256=hashlib.sha256(d).hexdigest(), phash=f'{i:016x}', width=1, height=1)\n"
                 "            for i, (u, d) in enumerate(downloads.items())]\n"
                 "    dedupe = getattr(tcs, 'deduplicate')\n"
                 "    return {r.url: r.duplicate_of for r in dedupe(rows, near_threshold=-1) if r.status == 'duplicate'}\n",
                 why="delegates to the library's deduplicate (through an alias and getattr)", message=FORBIDDEN),
    ],
    "leak_free_split": [
        Mutation("def leak_free_split(hashes, labels, valid_pct=0.25, threshold=8, seed=0):\n"
                 "    rng, splits = random.Random(seed), [None]*len(hashes)\n"
                 "    for label in sorted(set(labels)):\n"
                 "        members = [i for i, l in enumerate(labels) if l == label]\n"
                 "        rng.shuffle(members)\n"
                 "        for k, i in enumerate(members): splits[i] = 'valid' if k < round(valid_pct*len(members)) else 'train'\n"
                 "    return splits\n",
                 why="splits images before grouping duplicates (a copy leaks into valid)", message="straddle the split"),
        Mutation(_split(near="a == hashes[j]"), why="groups only identical hashes (near copies split apart)",
                 message="straddle the split"),
        Mutation(_split(near="(a ^ hashes[j]).bit_count() < threshold"),
                 why="'at most threshold' read as 'less than' (copies exactly threshold bits apart split apart)",
                 message="straddle the split"),
        Mutation(_split(group="parent[i]"), why="follows one link only, not the chain (A-B-C cut in two)",
                 message="chain of near pairs"),
        Mutation(_split(per_class_groups=True), why="groups within each class only (a copy in another class leaks)",
                 message="straddle the split"),
        Mutation(_split(rng="random.Random()"), why="unseeded: a different split on every call",
                 message="seed your random generator"),
        Mutation("def leak_free_split(hashes, labels, valid_pct=0.25, threshold=8, seed=0): return ['train']*len(hashes)",
                 why="everything in train (no validation set)", message="is only in train"),
        Mutation("from transfer_course.testing.web import sample_hashes as _sh\n"
                 "_public = leak_free_split(*_sh(0))\n"
                 "def leak_free_split(hashes, labels, valid_pct=0.25, threshold=8, seed=0): return list(_public)",
                 why="hard-codes the public answer", message="Expected one of 'train' or 'valid' for each of"),
        Mutation("from transfer_course import scrape as lesson\n"
                 "def leak_free_split(hashes, labels, valid_pct=0.25, threshold=8, seed=0):\n"
                 "    groups, rng, splits = lesson.near_duplicate_groups(hashes, threshold), random.Random(seed), []\n"
                 "    sides = {g: 'valid' if rng.random() < valid_pct else 'train' for g in sorted(set(groups))}\n"
                 "    return [sides[g] for g in groups]\n",
                 why="delegates the grouping to the library's near_duplicate_groups", message=FORBIDDEN),
    ],
}


def _resume(*body: str) -> str:
    return "def needs_fetch(row, file_exists, retry_failed=False):\n" + "".join(f"    {line}\n" for line in body)


MUTATIONS["needs_fetch"] = [
    Mutation(_resume("if row is None: return True", "if row['status'] == 'saved': return not file_exists",
                     "return row['status'] == 'failed'"),
             why="fetches every failure again, with or without retry_failed", message="retry_failed=False'] is True"),
    Mutation(_resume("if row is None: return True", "if row['status'] == 'saved': return not file_exists",
                     "return row['status'] == 'failed' and retry_failed"),
             why="a URL the scrape never reached (max-pics) waits for retry_failed", message="failed/max-pics"),
    Mutation(_resume("if row is None: return True", "if row['status'] == 'saved': return False",
                     "return row['status'] == 'failed' and (retry_failed or row['reason'] == 'max-pics')"),
             why="a saved image whose file has gone is not fetched again", message="saved/, file gone"),
    Mutation(_resume("if row is None: return True", "if row['status'] == 'saved': return not file_exists",
                     "return row['status'] != 'duplicate' and (retry_failed or row['reason'] == 'max-pics')"),
             why="a rejected download fetched again on retry (a verdict on the content)", message="rejected/"),
    Mutation(_resume("if row is None: return False", "if row['status'] == 'saved': return not file_exists",
                     "return row['status'] == 'failed' and (retry_failed or row['reason'] == 'max-pics')"),
             why="a URL never judged is not fetched", message="never judged"),
    Mutation("_public = {}\n" + _resume("return row is None or (row['status'] == 'saved' and not file_exists) or "
                                        "(row['status'] == 'failed' and retry_failed and row['reason'] == 'http-404')"),
             why="hard-codes the six public cases (404 retried, max-pics and other failures not)", message="failed/"),
    Mutation("from transfer_course import scrape\n"
             + _resume("old = None if row is None else scrape.ManifestRow('u', row['status'], row['reason'], file='f')",
                       "return getattr(scrape, '_needs_fetch')(old, scrape.Path('.') if file_exists else scrape.Path('/nonexistent'), retry_failed)"),
             why="delegates to the library's _needs_fetch", message=FORBIDDEN),
]
