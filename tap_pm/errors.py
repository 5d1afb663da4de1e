"""The one-line error, and the one masking function every text from a server passes through.

A server may echo the request's headers in an error body, put a newline in a message to forge
a log line of its own, or send a page token of 100 KB. So every string that came from a
response (error messages, headers, tokens, URLs it named) goes through `mask` before it is
logged or raised: the key is replaced (as sent, JSON-escaped or URL-encoded), control
characters are escaped, and the text is capped. `redact` (the key only) also runs over every
log record and every `TapPMError`, as a net under the rest.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import traceback
import typing as t
from urllib.parse import quote, quote_plus

import click

if t.TYPE_CHECKING:
    from collections.abc import Iterator

#: A key shorter than this (a typo, a placeholder) could be part of any word: only whole
#: occurrences of it are hidden, so `http://example.com` stays readable with a key of `x`.
MIN_REALISTIC_KEY_LENGTH = 8
#: Characters of server text kept in one message; the rest is counted, not printed.
MAX_SERVER_TEXT = 300
HIDDEN = "***"
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: each would end or
# rewrite a log line.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_secrets: list[str] = []


def register_secret(secret: str) -> None:
    """Hide `secret` from now on wherever `mask` or `redact` runs (the tap's key)."""
    if secret and secret not in _secrets:
        _secrets.append(secret)


def _forms(secret: str) -> set[str]:
    """The ways a server may write the key back: as sent, JSON-escaped, URL-encoded."""
    return {secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote_plus(secret)}


def mask_secret(text: str, secret: str) -> str:
    """Hide one secret in `text`, in each form a server may echo it."""
    if not secret:
        return text
    for form in sorted(_forms(secret), key=len, reverse=True):
        if len(secret) >= MIN_REALISTIC_KEY_LENGTH:
            text = text.replace(form, HIDDEN)
        else:
            text = re.sub(rf"(?<![\w-]){re.escape(form)}(?![\w-])", HIDDEN, text)
    return text


def redact(text: str) -> str:
    """`text` with every registered secret hidden (nothing else changes)."""
    for secret in _secrets:
        text = mask_secret(text, secret)
    return text


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or f"\\u{ord(char):04x}"


def mask(text: object, *, limit: int = MAX_SERVER_TEXT) -> str:
    """Server text made safe to print: no key, no control characters, at most `limit` long."""
    safe = _CONTROL.sub(_escape, redact(str(text)))
    if len(safe) > limit:
        return f"{safe[:limit]}… ({len(safe):,} characters)"
    return safe


class TapPMError(click.ClickException):
    """A failure the user can act on, reported as one line without a traceback."""

    def __init__(self, message: str) -> None:
        """Keep the message, with every registered secret hidden."""
        super().__init__(redact(message))


class _RedactingRecords:
    """A log record factory that hides the key in every record's message."""

    def __init__(self, factory: t.Callable[..., logging.LogRecord]) -> None:
        self.factory = factory

    def __call__(self, *args: t.Any, **kwargs: t.Any) -> logging.LogRecord:  # noqa: ANN401
        record = self.factory(*args, **kwargs)
        if _secrets:
            message = record.getMessage()
            if (hidden := redact(message)) != message:
                record.msg, record.args = hidden, None
        return record


def redact_every_log_record() -> None:
    """Install the redacting record factory once for the process."""
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _RedactingRecords):
        logging.setLogRecordFactory(_RedactingRecords(factory))


@contextlib.contextmanager
def one_line_errors(logger: logging.Logger) -> Iterator[None]:
    """Any unexpected exception becomes one masked line; its traceback goes to the DEBUG log."""
    try:
        yield
    except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        raise
    except Exception as exc:  # noqa: BLE001 - the last net: one line, whatever it was
        logger.debug("%s", redact("".join(traceback.format_exception(exc))))
        msg = (
            f"unexpected {type(exc).__name__}: {mask(exc)}. This is a bug in tap-pm: please "
            "report it with the log of a run with TAP_PM_LOGLEVEL=DEBUG, which shows where"
        )
        raise TapPMError(msg) from None
