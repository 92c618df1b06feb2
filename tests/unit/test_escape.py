"""Escaping untrusted text for Asterisk config files (property tests)."""

import base64
import re

from hypothesis import given
from hypothesis import strategies as st

from callflow.compiler.escape import base64_literal, comment, conf_arg, unescape_conf_arg

HOSTILE = st.one_of(
    st.text(),
    st.sampled_from(["${SHELL(touch /tmp/pwned)}", "$[1+1]", ',)";\\', "a\nb\r\nc", "x)(y,z"]),
)


@given(HOSTILE)
def test_comment_stays_on_one_line(text):
    out = comment(text)
    assert "\n" not in out and "\r" not in out
    assert not re.search(r"[\x00-\x1f\x7f]", out)


@given(HOSTILE)
def test_base64_literal_round_trips_and_has_no_special_characters(text):
    out = base64_literal(text)
    if not text:
        assert out == ""
        return
    inner = re.fullmatch(r"\$\{BASE64_DECODE\(([A-Za-z0-9+/=]*)\)\}", out)
    assert inner is not None
    assert base64.b64decode(inner.group(1)).decode() == text


@given(HOSTILE)
def test_conf_arg_reads_back_as_the_flattened_text(text):
    out = conf_arg(text)
    assert "\n" not in out and "\r" not in out
    # once every escaped pair is taken out, no separator, quote, paren, comment start or
    # lone backslash is left
    assert not re.search(r'[,;"()\\]', re.sub(r"\\.", "", out))
    flattened = re.sub(r"[\x00-\x1f\x7f]", " ", text).strip()
    assert unescape_conf_arg(out) == flattened
