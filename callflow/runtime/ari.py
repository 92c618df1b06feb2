"""The ARI adapter: the only module that talks to aioari (an import-linter contract says so).

It keeps one Stasis application registered while the process runs: connect, register,
hand every event to a plain callback as an :class:`~callflow.runtime.session.AriEvent`,
and when the websocket drops (Asterisk restarting, a network blip) reconnect with backoff.
Asterisk answering HTTP 503 means "still booting" and is retried quickly. After every
(re)registration ``on_registered`` runs, which is where the runtime reclaims the channels
still parked in the application. Channel operations (answer, play, set a variable, continue
in dialplan, ...) are methods here, so the session and interpreter never see aioari::

    settings = AriSettings.from_env(app="callflow-star_motors")
    ari = AriClient(settings, on_event=print)
    await ari.run()            # until ari.stop()

The password is sent as HTTP basic auth (a header), never in a URL, and never logged:
``repr(settings)`` and every error message leave it out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import aiohttp
from aioari import AsynchronousHttpClient
from aioari.client import Client

from callflow.runtime.session import AriEvent, ChannelGone, ControlError

log = logging.getLogger("callflow.ari")

ENV_URL = "CALLFLOW_ARI_URL"
ENV_USER = "CALLFLOW_ARI_USER"
ENV_PASSWORD = "CALLFLOW_ARI_PASSWORD"  # noqa: S105 - the variable's name, not a secret

#: statuses that mean "this channel is not ours (any more)": gone, or left the app
_GONE = (404, 409, 412, 422)


@dataclass(frozen=True)
class AriSettings:
    """Where ARI is and who we are; ``url`` is ARI's base (``http://host:8088/ari``)."""

    url: str
    user: str
    password: str = field(repr=False)
    app: str = "callflow"
    #: HTTP connections this application keeps to ARI at most. Asterisk serves at most
    #: ``sessionlimit`` (http.conf, default 100) HTTP sessions for *every* client together;
    #: a burst of calls flushing their variables at once must queue here instead of
    #: pushing Asterisk over that limit, where it drops requests mid-call.
    connections: int = 8

    @classmethod
    def from_env(
        cls,
        app: str,
        *,
        url: str | None = None,
        user: str | None = None,
        password: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> AriSettings:
        """Arguments win over ``CALLFLOW_ARI_URL`` / ``_USER`` / ``_PASSWORD``::

        AriSettings.from_env("callflow-acme", url="http://127.0.0.1:8088/ari")
        """
        source = os.environ if env is None else env
        found_url, url_user, url_password = split_url(
            url or source.get(ENV_URL, "http://127.0.0.1:8088/ari")
        )
        found_user = user or source.get(ENV_USER, "") or url_user
        found_password = password if password is not None else source.get(ENV_PASSWORD, "")
        if not found_password and url_password:
            found_password = url_password
        if not found_user:
            raise ValueError(f"no ARI user: pass one or set {ENV_USER}")
        return cls(found_url, found_user, found_password, app)

    @property
    def base_url(self) -> str:
        """The HTTP root aioari wants (ARI's URL without the trailing ``/ari``)."""
        root = self.url.rstrip("/").removesuffix("/ari")
        return root + "/"

    def redact(self, text: str) -> str:
        """``text`` with the password (if any) replaced by ``***``."""
        return text.replace(self.password, "***") if self.password else text


def split_url(url: str) -> tuple[str, str, str]:
    """``(url without credentials, user, password)`` for an ARI base URL; ValueError (the
    URL shown without its password) when it is not ``http(s)://host[:port]/...``::

        split_url("http://cf:s3cret@127.0.0.1:8088/ari")
        # ('http://127.0.0.1:8088/ari', 'cf', 's3cret')
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # ValueError when not a number in range
    except ValueError as exc:
        raise ValueError(f"ARI URL {_masked(url)!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"ARI URL {_masked(url)!r}: expected http(s)://host[:port]/ari")
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if port is not None:
        netloc += f":{port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return clean, unquote(parts.username or ""), unquote(parts.password or "")


def _masked(url: str) -> str:
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, sep, creds = head.partition("://")
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{tail}" if sep else f"***@{tail}"


class AriClient:
    """One registered Stasis application, reconnecting for as long as it runs.

    ``on_event`` is called synchronously for each event (keep it quick: queue the event);
    ``on_registered`` is awaited after every successful registration.
    """

    def __init__(
        self,
        settings: AriSettings,
        on_event: Callable[[AriEvent], None],
        *,
        on_registered: Callable[[], Awaitable[None]] | None = None,
        backoff: tuple[float, float] = (0.1, 2.0),
        request_timeout: float = 10.0,
        subscribe_all: bool = False,
    ) -> None:
        """``subscribe_all``: receive the events of every channel in Asterisk, not only
        of those in the application (the dialer's channels run dialplan, never Stasis)."""
        self.settings = settings
        self.subscribe_all = subscribe_all
        self.on_event = on_event
        self.on_registered = on_registered
        self.backoff = backoff
        #: seconds between attempts while ARI refuses our user or password
        self.auth_retry = 30.0
        self.request_timeout = request_timeout
        self._client: Any = None
        self._http: aiohttp.ClientSession | None = None
        self._stopping = asyncio.Event()
        self._ws: Any = None
        self.registered = asyncio.Event()
        self.registrations = 0
        self.registered_at: float | None = None

    # ---- lifecycle ------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, register, pump events; on any loss reconnect with backoff until stop()."""
        delay = self.backoff[0]
        while not self._stopping.is_set():
            try:
                await self._connect_and_pump()
                delay = self.backoff[0]  # we were connected: start over quickly
            except asyncio.CancelledError:
                raise
            except _Booting:
                log.info("Asterisk is still booting (HTTP 503); retrying", extra=self._extra())
                delay = self.backoff[0]
            except _AuthFailed as exc:
                delay = self.auth_retry
                log.error(
                    "ARI authentication failed for user %r (HTTP %s): check --ari-user and "
                    "--ari-password; next attempt in %gs",
                    self.settings.user,
                    exc.status,
                    delay,
                    extra=self._extra(),
                )
            except Exception as exc:  # any failure: log it (without secrets) and retry
                log.warning(
                    "ARI connection failed: %s; retrying in %.1fs",
                    self._describe(exc),
                    delay,
                    extra=self._extra(),
                )
            finally:
                self.registered.clear()
                await self._close_client()
            if self._stopping.is_set():
                break
            with contextlib.suppress(TimeoutError):
                jitter = delay * random.uniform(0.0, 0.2)
                await asyncio.wait_for(self._stopping.wait(), delay + jitter)
            delay = min(delay * 2, max(self.backoff[1], delay))

    async def stop(self) -> None:
        """Leave the application: close the websocket (channels stay in Asterisk)."""
        self._stopping.set()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()

    async def _connect_and_pump(self) -> None:
        http = AsynchronousHttpClient()
        # aioswagger puts credentials in the query string; use basic auth on our own session
        # so the password is in a header only (and never in a URL an error could print).
        await http.session.close()
        http.session = aiohttp.ClientSession(
            headers={
                "Authorization": aiohttp.encode_basic_auth(
                    self.settings.user, self.settings.password
                )
            },
            timeout=aiohttp.ClientTimeout(total=self.request_timeout),
            connector=aiohttp.TCPConnector(limit=self.settings.connections),
        )
        self._http = http.session
        client = Client(self.settings.base_url, http)
        self._client = client
        try:
            await client.init()
        except Exception as exc:
            status = _status(exc)
            if status == 503:
                raise _Booting from exc
            if status in (401, 403):
                raise _AuthFailed(status) from exc
            raise
        params = {"app": quote(self.settings.app, safe="")}
        if self.subscribe_all:
            params["subscribeAll"] = "true"
        ws = await client.swagger.events.eventWebsocket(**params)
        self._ws = ws
        self.registrations += 1
        self.registered_at = time.monotonic()
        self.registered.set()
        log.info("ARI application registered", extra=self._extra())
        if self.on_registered is not None:
            task = asyncio.create_task(self._after_registration())
        else:
            task = None
        try:
            while True:
                msg = await ws.receive()
                if msg.type in (
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.ERROR,
                ):
                    break
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                self._dispatch(msg.data)
        finally:
            if task is not None and not task.done():
                task.cancel()
            self._ws = None
            with contextlib.suppress(Exception):
                await ws.close()
        if not self._stopping.is_set():
            log.warning("ARI websocket closed; reconnecting", extra=self._extra())

    async def _after_registration(self) -> None:
        assert self.on_registered is not None
        try:
            await self.on_registered()
        except Exception as exc:
            log.exception("after-registration step failed: %s", self._describe(exc))

    def _dispatch(self, text: str) -> None:
        try:
            raw = json.loads(text)
        except ValueError:
            log.warning("ARI sent something that is not JSON; ignored")
            return
        if not isinstance(raw, dict) or "type" not in raw:
            return
        try:
            self.on_event(parse_event(raw))
        except Exception:  # a bad event must never stop the pump
            log.exception("handling ARI event %s failed", raw.get("type"))

    async def _close_client(self) -> None:
        client, self._client = self._client, None
        http, self._http = self._http, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()
        if http is not None and not http.closed:  # client.close() skips it if init failed
            await http.close()

    def _extra(self) -> dict[str, Any]:
        return {"app": self.settings.app, "ari": self.settings.url}

    def _describe(self, exc: BaseException) -> str:
        status = _status(exc)
        text = f"HTTP {status}" if status else f"{type(exc).__name__}: {exc}"
        return self.settings.redact(text)

    # ---- operations -------------------------------------------------------------------------
    async def _call(self, resource: str, operation: str, **params: Any) -> Any:
        client = self._client
        if client is None or not self.registered.is_set():
            raise ControlError(f"{operation}: not connected to ARI")
        try:
            oper = getattr(client.swagger.resources[resource], operation)
            return await oper(**params)
        except ControlError:
            raise
        except Exception as exc:
            status = _status(exc)
            what = f"{resource}.{operation}"
            if status in _GONE:
                raise ChannelGone(f"{what}: HTTP {status}") from exc
            raise ControlError(f"{what}: {self._describe(exc)}") from exc

    async def _json(self, resource: str, operation: str, **params: Any) -> Any:
        response = await self._call(resource, operation, **params)
        try:
            text = await response.text()
        finally:
            response.release()
        return json.loads(text) if text.strip() else None

    async def answer(self, channel: str) -> None:
        await self._json("channels", "answer", channelId=channel)

    async def play(self, channel: str, media: str, playback: str) -> None:
        await self._json("channels", "play", channelId=channel, media=media, playbackId=playback)

    async def stop_playback(self, playback: str) -> None:
        await self._json("playbacks", "stop", playbackId=playback)

    async def set_var(self, channel: str, name: str, value: str) -> None:
        await self._json("channels", "setChannelVar", channelId=channel, variable=name, value=value)

    async def get_var(self, channel: str, name: str) -> str | None:
        try:
            data = await self._json("channels", "getChannelVar", channelId=channel, variable=name)
        except ChannelGone:
            # Asterisk answers 404 for an unset variable as for a missing channel; the
            # next operation on a missing channel says which it was.
            return None
        value = data.get("value") if isinstance(data, dict) else None
        return str(value) if value not in (None, "") else None

    async def continue_in_dialplan(
        self, channel: str, context: str | None, extension: str | None, priority: int | None
    ) -> None:
        """Leave the app and go on in dialplan; None for all three means "where the
        channel was" (aioswagger rejects parameters passed as None, so they are left out)."""
        where = {"context": context, "extension": extension, "priority": priority}
        await self._json(
            "channels",
            "continueInDialplan",
            channelId=channel,
            **{name: value for name, value in where.items() if value is not None},
        )

    async def hangup(self, channel: str) -> None:
        await self._json("channels", "hangup", channelId=channel)

    async def channel_info(self, channel: str) -> dict[str, Any] | None:
        """The channel's ARI JSON, or None when it no longer exists."""
        try:
            data = await self._json("channels", "get", channelId=channel)
        except ChannelGone:
            return None
        return data if isinstance(data, dict) else None

    async def originate(
        self,
        channel_id: str,
        endpoint: str,
        *,
        context: str,
        extension: str,
        priority: int = 1,
        caller_id: str | None = None,
        timeout: int | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> None:
        """``POST /channels/{channel_id}``: dial ``endpoint``; once answered it runs
        ``context,extension,priority``. Asterisk answers as soon as the channel exists
        (the outcome comes later as ``ChannelDestroyed``). Raises :class:`OriginateFailed`
        with Asterisk's status and message when it refuses (500 ``Allocation failed``:
        the channel driver refused the endpoint; 400: a malformed endpoint; 409: the id
        is in use), :class:`ControlError` when ARI cannot be reached (then whether the
        channel exists is unknown: ask :meth:`channels`)."""
        params: dict[str, str] = {
            "endpoint": endpoint,
            "context": context,
            "extension": extension,
            "priority": str(priority),
        }
        if caller_id:
            params["callerId"] = caller_id
        if timeout is not None:
            params["timeout"] = str(timeout)
        body = {"variables": dict(variables or {})}
        status, data = await self._raw(
            "POST", f"channels/{quote(channel_id, safe='')}", params=params, body=body
        )
        if status >= 300:
            message = data.get("message", "") if isinstance(data, dict) else ""
            raise OriginateFailed(status, str(message))

    async def channels(self) -> list[dict[str, Any]]:
        """``GET /channels``: every channel Asterisk has right now (ARI's JSON each)."""
        status, data = await self._raw("GET", "channels")
        if status >= 300 or not isinstance(data, list):
            raise ControlError(f"GET /channels: HTTP {status}")
        return [c for c in data if isinstance(c, dict)]

    async def _raw(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> tuple[int, Any]:
        """One ARI request on the application's own HTTP session (basic auth in a header,
        at most ``settings.connections`` at once): ``(status, JSON or None)``."""
        http = self._http
        if http is None or http.closed or not self.registered.is_set():
            raise ControlError(f"{method} /{path}: not connected to ARI")
        url = self.settings.url.rstrip("/") + "/" + path
        try:
            async with http.request(method, url, params=params, json=body) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ControlError(f"{method} /{path}: {self._describe(exc)}") from exc
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            data = None
        return status, data

    async def app_channels(self) -> list[str]:
        """Ids of the channels in our application right now (``GET /applications/{app}``)."""
        data = await self._json("applications", "get", applicationName=self.settings.app)
        ids = data.get("channel_ids", []) if isinstance(data, dict) else []
        return [str(i).removeprefix("channel:") for i in ids]


class OriginateFailed(ControlError):
    """Asterisk refused an originate: ``status`` (500, 400, 409...) and its ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"originate: HTTP {status} {message}".rstrip())
        self.status = status
        self.message = message


class _Booting(Exception):
    """ARI answered 503: Asterisk has not finished booting."""


class _AuthFailed(Exception):
    """ARI answered 401/403: wrong user or password."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def _status(exc: BaseException) -> int | None:
    for candidate in (exc, exc.__cause__):
        status = getattr(candidate, "status", None) or getattr(candidate, "status_code", None)
        if isinstance(status, int):
            return status
    return None


def parse_event(raw: dict[str, Any]) -> AriEvent:
    """Turn ARI's event JSON into the runtime's :class:`AriEvent`."""
    kind = str(raw.get("type", ""))
    channel = raw.get("channel") if isinstance(raw.get("channel"), dict) else None
    playback = raw.get("playback") if isinstance(raw.get("playback"), dict) else None
    channel_id = str(channel["id"]) if channel and "id" in channel else ""
    playback_id = ""
    if playback is not None:
        playback_id = str(playback.get("id", ""))
        target = str(playback.get("target_uri", ""))
        if not channel_id and target.startswith("channel:"):
            channel_id = target.removeprefix("channel:")
    caller = ""
    if channel is not None and isinstance(channel.get("caller"), dict):
        caller = str(channel["caller"].get("number", ""))
    args = raw.get("args")
    cause = raw.get("cause")
    return AriEvent(
        type=kind,
        channel=channel_id,
        digit=str(raw.get("digit", "")),
        playback=playback_id,
        args=tuple(str(a) for a in args) if isinstance(args, list) else (),
        caller=caller,
        cause=cause if isinstance(cause, int) else None,
        state=str(channel.get("state", "")) if channel is not None else "",
        variable=str(raw.get("variable", "")),
        value=str(raw.get("value", "")),
    )
