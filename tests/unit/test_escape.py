"""Escaping untrusted text for Asterisk config files (property tests)."""

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callflow.compiler.escape import base64_literal, comment, conf_arg, unescape_conf_arg

HOSTILE = st.one_of(
    st.text(),
    st.text(st.characters(exclude_categories=())),  # lone surrogates too
    st.sampled_from(["${SHELL(touch /tmp/pwned)}", "$[1+1]", ',)";\\', "a\nb\r\nc", "x)(y,z"]),
    st.sampled_from(["a\u2028b", "a\u2029b", "a\x85b", "a\x1c\x1d\x1eb", "\ud800x", " \x0b\x0c "]),
)


@given(HOSTILE)
def test_comment_stays_on_one_line(text):
    out = comment(text)
    assert len(out.splitlines()) <= 1  # no character Python or Asterisk breaks a line on
    assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029]", out)
    out.encode("utf-8")  # lone surrogates escaped too


@given(HOSTILE)
def test_base64_literal_round_trips_and_has_no_special_characters(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # not text: refused (validation reports it first, CF134)
        with pytest.raises(ValueError):
            base64_literal(text)
        return
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
    # line breaks of every kind (and lone surrogates) flattened; the spaces Asterisk strips
    flattened = re.sub("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]", " ", text).strip(" ")
    assert unescape_conf_arg(out) == flattened
