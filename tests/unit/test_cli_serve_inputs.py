"""``callflow serve`` on bad input: one clear message naming the option, a non-zero exit,
never a traceback (and never a secret)."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from callflow.cli import main

CASES = [
    (["--ami", "pbx:"], "--ami", "port must be"),
    (["--ami", "pbx:99999"], "--ami", "port must be"),
    (["--ami", "pbx:abc"], "--ami", "port must be"),
    (["--ami", "::1"], "--ami", "IPv6"),
    (["--ami", " "], "--ami", "expected host"),
    (["--allow", "10.0.0.0/33"], "--allow", "not an IP address"),
    (["--allow", "localhost"], "--allow", "not an IP address"),
    (["--allow", ","], "--allow", "expected one or more"),
    (["--port", "70000"], "--port", "70000"),
    (["--port", "-1"], "--port", "-1"),
    (["--port", "http"], "--port", "not a valid integer"),
    (["--budget", "0"], "--budget", "0"),
    (["--budget", "-5"], "--budget", "-5"),
    (["--budget", "nan"], "--budget", "nan"),
    (["--budget", "1e9"], "--budget", "not in the range"),
    (["--ari-url", "127.0.0.1:8088/ari"], "--ari-url", "expected http(s)://"),
    (["--ari-url", "ftp://pbx/ari"], "--ari-url", "expected http(s)://"),
    (["--ari-url", "http://cf:s3cret@pbx:99999/ari"], "--ari-url", "cf:***@"),
    (["--ari-url", "http://cf:s3cret@/ari"], "--ari-url", "expected http(s)://"),
    (["no_such_site.py"], "no_such_site.py", ""),
]


@pytest.mark.parametrize(("args", "names", "says"), CASES)
def test_bad_serve_options_give_one_clear_message(tmp_path, args, names, says):
    db = f"sqlite:///{tmp_path / 'crm.db'}"
    result = CliRunner().invoke(main, ["serve", "--db", db, *args])
    output = result.output
    assert result.exit_code != 0, output
    assert "Traceback" not in output and result.exc_info[0] is SystemExit, output
    assert names in output and says in output, output
    assert "s3cret" not in output


def test_a_port_in_use_is_named_not_a_traceback(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        db = f"sqlite:///{tmp_path / 'crm.db'}"
        result = CliRunner().invoke(main, ["serve", "--db", db, "--port", str(port)])
    assert result.exit_code == 1 and result.exc_info[0] is SystemExit, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("notaurl", "is not a database URL"),
        ("mysql://cf:s3cret@db/crm", "SQLite or PostgreSQL"),
    ],
)
def test_a_store_url_that_can_never_work_is_refused_before_anything_listens(url, says):
    result = CliRunner().invoke(main, ["serve", "--db", url, "--port", "0"])
    assert result.exit_code == 1 and result.exc_info[0] is SystemExit, result.output
    assert says in result.output and "Traceback" not in result.output
    assert "s3cret" not in result.output
    assert "FastAGI lookup on" not in result.output
