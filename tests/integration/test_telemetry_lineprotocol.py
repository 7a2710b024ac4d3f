"""Line-protocol encoding: exact escapes, refusals, and a hypothesis round trip through real InfluxDB 1.x.

The real parser is the oracle: whatever hypothesis generates (spaces, commas, equals signs,
quotes, backslashes in strings, Unicode…) must come back from InfluxQL exactly as it went in.
"""

from __future__ import annotations

import itertools
import math
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boiler.telemetry.point import Point, datetime_from_ns, encode_lines, ns_from_datetime
from tests.integration.influx_servers import InfluxDB1


def test_escapes_follow_the_line_protocol_reference() -> None:
    p = Point("a b,c=d", {"t k": "v=1,2 3"}, {"f,=x": 'q"\\ "', "i": 7, "b": False, "x": 0.1}, 42)
    assert p.to_line() == r'a\ b\,c=d,t\ k=v\=1\,2\ 3 f\,\=x="q\"\\ \"",i=7i,b=false,x=0.1 42'


def test_tags_are_sorted_and_types_keep_their_form() -> None:
    p = Point(
        "m", {"z": "1", "a": "2"}, {"big": 2**63 - 1, "neg": -5, "f": 1e21, "whole": 3.0, "t": True}, -1
    )
    assert p.to_line() == "m,a=2,z=1 big=9223372036854775807i,neg=-5i,f=1e+21,whole=3.0,t=true -1"
    assert encode_lines([p, p]) == p.to_line() + "\n" + p.to_line()


@pytest.mark.parametrize(
    ("measurement", "tags", "fields", "time_ns", "error"),
    [
        ("m\n", {}, {"v": 1}, 0, "newline"),
        ("m", {"t": "a\nb"}, {"v": 1}, 0, "newline"),
        ("m", {}, {"v": "a\nb"}, 0, "newline"),
        ("m\\", {}, {"v": 1}, 0, "backslash"),
        ("m", {"t\\": "a"}, {"v": 1}, 0, "backslash"),
        ("m", {"t": "a\\"}, {"v": 1}, 0, "backslash"),
        ("", {}, {"v": 1}, 0, "non-empty"),
        ("m", {"t": ""}, {"v": 1}, 0, "non-empty"),
        ("m", {}, {}, 0, "no field"),
        ("_m", {}, {"v": 1}, 0, "reserved"),
        ("#m", {}, {"v": 1}, 0, "comment"),
        ("m", {"_t": "a"}, {"v": 1}, 0, "reserved"),
        ("m", {}, {"time": 1}, 0, "reserved"),
        ("m", {"k": "a"}, {"k": 1}, 0, "both a tag and a field"),
        ("m", {}, {"v": math.nan}, 0, "finite"),
        ("m", {}, {"v": math.inf}, 0, "finite"),
        ("m", {}, {"v": 2**63}, 0, "int64"),
        ("m", {}, {"v": 1}, 2**63, "int64"),
        ("m", {}, {"v": "x" * 70_000}, 0, "longer"),
    ],
)
def test_what_line_protocol_cannot_carry_is_refused(
    measurement: str, tags: dict, fields: dict, time_ns: int, error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        Point(measurement, tags, fields, time_ns)


def test_points_compare_by_their_encoding() -> None:
    assert Point("m", {"a": "1"}, {"v": 1}, 5) == Point("m", {"a": "1"}, {"v": 1}, 5)
    assert Point("m", {}, {"v": 1}, 5) != Point("m", {}, {"v": True}, 5)
    assert Point("m", {}, {"v": 1}, 5) != Point("m", {}, {"v": 1.0}, 5)
    assert len({Point("m", {}, {"v": 1}, 5), Point("m", {}, {"v": 1}, 5)}) == 1


def test_unsupported_field_types_are_refused() -> None:
    with pytest.raises(TypeError):
        Point("m", {}, {"v": [1, 2]}, 0)
    with pytest.raises(TypeError):
        Point("m", {}, {"v": 1}, 1.5)  # type: ignore[arg-type]


def test_timestamps_are_exact_nanoseconds_of_aware_datetimes() -> None:
    at = datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    assert ns_from_datetime(at) == 1_709_296_215_123_456_000
    paris = at.astimezone(timezone(timedelta(hours=1)))
    assert ns_from_datetime(paris) == ns_from_datetime(at)
    assert datetime_from_ns(ns_from_datetime(at)) == at
    with pytest.raises(ValueError, match="timezone-aware"):
        ns_from_datetime(datetime(2024, 3, 1))
    assert Point.at("m", at, {"v": 1}).time_ns == 1_709_296_215_123_456_000


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_are_written_with_full_precision(value: float) -> None:
    text = Point("m", {}, {"v": value}, 0).to_line().split(" ")[1].removeprefix("v=")
    assert float(text) == value


# -- round trip through the real InfluxDB 1.x parser ---------------------------------------------------

# Names: printable text with every line-protocol special character, but no backslash or newline (refused).
_NAME_CHARS = st.characters(
    blacklist_categories=("Cs", "Cc"), blacklist_characters="\\\n\r", min_codepoint=32, max_codepoint=0x2FFF
)
_names = st.text(_NAME_CHARS, min_size=1, max_size=12).filter(lambda s: not s.startswith(("_", "#")))
_keys = _names.filter(lambda s: s != "time")
_string_values = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\n\r", min_codepoint=32),
    max_size=40,
)
_field_values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    _string_values,
)


@st.composite
def _points(draw: st.DrawFn) -> tuple[str, dict[str, str], dict[str, object]]:
    measurement = draw(_names)
    tags = draw(st.dictionaries(_keys, _names, max_size=3))
    fields = draw(
        st.dictionaries(_keys.filter(lambda k: k not in tags), _field_values, min_size=1, max_size=4)
    )
    return measurement, tags, fields


_serial = itertools.count()
_BASE_NS = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z


def _write(server: InfluxDB1, database: str, body: str) -> None:
    req = urllib.request.Request(
        f"{server.url}/api/v2/write?org=-&bucket={database}&precision=ns",
        data=body.encode(),
        headers={"Authorization": f"Token {server.token}"},
        method="POST",
    )
    try:
        urllib.request.urlopen(req, timeout=10).read()
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"InfluxDB refused {body!r}: {exc.read()!r}") from None


_PY_TYPE_OF = {"float": float, "integer": int, "boolean": bool, "string": str}


@pytest.fixture(scope="module")
def lp_database(influx1: InfluxDB1) -> str:
    influx1.create_database("lineprotocol")
    return "lineprotocol"


@settings(max_examples=150, deadline=None)
@given(point=_points())
def test_any_encodable_point_round_trips_through_influxdb(
    influx1: InfluxDB1, lp_database: str, point: tuple[str, dict[str, str], dict[str, object]]
) -> None:
    measurement, tags, fields = point
    n = next(_serial)
    # A measurement of its own per example, so that field types never conflict between examples.
    measurement = f"{measurement}·{n}"
    time_ns = _BASE_NS + n
    _write(influx1, lp_database, Point(measurement, tags, fields, time_ns).to_line())

    rows = influx1.rows(measurement, where=f"time = {time_ns}", database=lp_database)
    assert len(rows) == 1
    row = rows[0]
    assert (row.measurement, row.time_ns, row.tags) == (measurement, time_ns, tags)
    # Types as stored by InfluxDB (JSON alone cannot tell 3.0 from 3).
    stored_types = influx1.field_types(measurement, database=lp_database)
    assert {k: _PY_TYPE_OF[t] for k, t in stored_types.items()} == {k: type(v) for k, v in fields.items()}
    assert {k: _PY_TYPE_OF[stored_types[k]](v) for k, v in row.fields.items()} == fields
