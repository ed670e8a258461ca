"""The ``cfs new`` command: arguments, the draft, the review table."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from ..config.loader import configs_dir
from ..config.paths import PROJECT_ROOT


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "new",
        help="draft a feed's config and fixture folder from saved responses",
        description="Draft city_configs/FEED_ID.yaml and tests/fixtures/FEED_ID/ "
        "from one or more saved responses of a feed (or one page fetched from "
        "--url), then check and replay the draft and show what it maps.",
    )
    s.add_argument("feed_id", metavar="FEED_ID", help="<state>_<city>_<feed>")
    s.add_argument("--from", dest="files", nargs="+", metavar="FILE", default=[])
    s.add_argument(
        "--time-zone",
        required=True,
        metavar="TZ",
        help="IANA zone of the feed's local times (never assumed)",
    )
    s.add_argument("--url", help="the live feed URL (fetched once when no --from)")
    s.add_argument(
        "--platform", choices=["socrata", "arcgis", "json", "csv", "xml", "html_table"]
    )
    s.add_argument("--agency")
    s.add_argument("--city")
    s.add_argument("--state")
    s.add_argument("--title")
    s.add_argument(
        "--captured-at",
        nargs="+",
        default=[],
        metavar="TIME",
        help="capture time of each file (ISO 8601), in --from order",
    )
    s.add_argument(
        "--fixtures", metavar="DIR", help="fixture root (default: tests/fixtures)"
    )
    s.add_argument(
        "--no-replay",
        action="store_true",
        help="write the draft only (skip the check, replay and table)",
    )
    s.set_defaults(func=run_new)


def run_new(args: argparse.Namespace) -> int:
    # the drafting modules (and the parsers, polars) load only for `cfs new`
    from .detect import DraftError
    from .fetch import fetch_page
    from .new import DraftOptions, draft
    from .review import review

    configs = Path(args.configs) if args.configs else configs_dir()
    fixtures = (
        Path(args.fixtures) if args.fixtures else PROJECT_ROOT / "tests" / "fixtures"
    )
    files = [Path(f) for f in args.files]
    captured = list(args.captured_at)
    tmp = None
    try:
        if not files:
            if not args.url:
                raise DraftError(
                    "give --from FILE [FILE ...], or --url to fetch a page"
                )
            if (configs / f"{args.feed_id}.yaml").exists():
                raise DraftError(
                    f"{configs / args.feed_id}.yaml exists: not overwritten"
                )
            tmp = Path(tempfile.mkdtemp(prefix="cfs-new-fetch-"))
            got = fetch_page(args.url, tmp)
            print(
                f"fetched {got.url} ({got.requests} requests with robots.txt) "
                f"into {got.path.name}",
                file=sys.stderr,
            )
            files = [got.path]
            captured = captured or [got.captured_at.isoformat()]
        result = draft(
            DraftOptions(
                feed_id=args.feed_id,
                files=files,
                time_zone=args.time_zone,
                configs_dir=configs,
                fixtures_dir=fixtures,
                url=args.url,
                platform=args.platform,
                agency=args.agency,
                city=args.city,
                state=args.state,
                title=args.title,
                captured_at=captured,
            )
        )
    except DraftError as exc:
        print(f"cfs new: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {result.config_path}", file=sys.stderr)
    print(
        f"wrote {result.fixture_dir}/ ({len(files)} files, manifest.yaml)",
        file=sys.stderr,
    )
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.no_replay:
        return 0
    rev = review(args.feed_id, configs, fixtures, result.data.get("record", {}))
    print(rev.render())
    print(
        f"\nNext: review {result.config_path} line by line (each guess says why), "
        f"replay with `cfs crawl {args.feed_id} --replay`, then set "
        "verified_against_capture: true.",
        file=sys.stderr,
    )
    return 0 if rev.replay_ok and rev.check_ok else 2
