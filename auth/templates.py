"""The HTML pages of the built-in authorization server: the employer login form and the error page.

Plain ``string.Template`` strings rather than a template engine (no Jinja dependency). Every value that goes
into a page passes through :func:`html.escape` with ``quote=True`` before substitution, whether it came from
the request or from configuration; the templates contain no script and no external resource, so the pages
work under ``Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'``. Labels are bilingual
(Chinese first, English second).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from string import Template

__all__ = ["render_error_page", "render_login_page"]

_STYLE = """
  body { font-family: system-ui, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif;
         background: #f4f6f8; color: #1f2933; margin: 0; }
  main { max-width: 26rem; margin: 3rem auto; background: #fff; padding: 2rem; border-radius: 8px;
         box-shadow: 0 1px 4px rgba(0, 0, 0, .12); }
  h1 { font-size: 1.25rem; margin: 0 0 1rem; }
  .en { color: #52606d; font-weight: normal; }
  label { display: block; margin: 1rem 0 .25rem; font-weight: 600; }
  input[type=text], input[type=password] { width: 100%; box-sizing: border-box; padding: .5rem;
         font-size: 1rem; border: 1px solid #9aa5b1; border-radius: 4px; }
  .actions { display: flex; gap: .75rem; margin-top: 1.5rem; }
  button { padding: .5rem 1.25rem; font-size: 1rem; border-radius: 4px; border: 1px solid #1f5fbf;
         background: #1f5fbf; color: #fff; cursor: pointer; }
  button.secondary { background: #fff; color: #1f5fbf; }
  .error { background: #fde8e8; color: #9b1c1c; padding: .75rem; border-radius: 4px; margin-bottom: 1rem; }
  .meta { font-size: .875rem; color: #52606d; }
  .meta code { word-break: break-all; }
  ul.scopes { margin: .25rem 0 0; padding-left: 1.25rem; }
"""

_LOGIN = Template(
    """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>用人单位登录 Employer sign-in · 人社信用信息</title>
<style>$style</style>
</head>
<body>
<main>
<h1>用人单位登录 <span class="en">Employer sign-in</span></h1>
$error
<p class="meta">应用 <span class="en">Application</span>: <code>$client_id</code><br>
登录后返回 <span class="en">Returns to</span>: <code>$return_to</code></p>
<details class="meta"><summary>申请的权限 <span class="en">Requested access</span></summary>
<ul class="scopes">$scopes</ul></details>
<form method="post" action="$action" autocomplete="on">
$hidden
<label for="username">统一社会信用代码 <span class="en">Unified social credit code (USCC)</span></label>
<input type="text" id="username" name="username" value="$username" required maxlength="64"
 autocomplete="username" autocapitalize="characters" spellcheck="false" autofocus>
<label for="password">密码 <span class="en">Password</span></label>
<input type="password" id="password" name="password" required maxlength="1024" autocomplete="current-password">
<div class="actions">
<button type="submit" name="action" value="login">登录 <span>Sign in</span></button>
<button type="submit" name="action" value="cancel" class="secondary" formnovalidate>取消 <span>Cancel</span></button>
</div>
</form>
</main>
</body>
</html>
"""
)

_ERROR = Template(
    """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>$title_zh $title_en · 人社信用信息</title>
<style>$style</style>
</head>
<body>
<main>
<h1>$title_zh <span class="en">$title_en</span></h1>
<p>$message_zh</p>
<p class="en">$message_en</p>
<p class="meta">错误代码 <span class="en">Error</span>: <code>$code</code></p>
</main>
</body>
</html>
"""
)


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def render_login_page(
    *,
    action: str,
    client_id: str,
    return_to: str,
    scopes: Iterable[str],
    hidden: Mapping[str, str],
    username: str = "",
    error: tuple[str, str] | None = None,
) -> str:
    """The login form. ``hidden`` are the form fields carried to the POST (the authorization request's
    parameters and the CSRF token); ``error`` is a ``(Chinese, English)`` message shown above the form."""
    hidden_fields = "\n".join(
        f'<input type="hidden" name="{_e(name)}" value="{_e(value)}">' for name, value in hidden.items()
    )
    scope_items = "".join(f"<li><code>{_e(scope)}</code></li>" for scope in scopes)
    error_block = ""
    if error is not None:
        error_block = f'<p class="error" role="alert">{_e(error[0])}<br><span>{_e(error[1])}</span></p>'
    return _LOGIN.substitute(
        style=_STYLE,
        error=error_block,
        client_id=_e(client_id),
        return_to=_e(return_to),
        scopes=scope_items,
        action=_e(action),
        hidden=hidden_fields,
        username=_e(username),
    )


def render_error_page(*, code: str, title: tuple[str, str], message: tuple[str, str]) -> str:
    """An error page for a request that must not be redirected back to the client (RFC 6749 §4.1.2.1)."""
    return _ERROR.substitute(
        style=_STYLE,
        title_zh=_e(title[0]),
        title_en=_e(title[1]),
        message_zh=_e(message[0]),
        message_en=_e(message[1]),
        code=_e(code),
    )
