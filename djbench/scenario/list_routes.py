"""Print, as one line of JSON, what page discovery needs to know of a Django project's URLconf:
its routes without parameters, where the admin is mounted, and the login, static and media URLs.

Run in the project's own environment, never imported by the harness:
    DJANGO_SETTINGS_MODULE=mysite.settings python list_routes.py
Output: {"routes": ["/", "/about/"], "admin": ["/admin/"], "login_url": "/accounts/login/",
         "static_url": "/static/", "media_url": "/media/"}
"""

import json
import re

# What a regex route may hold to be one literal path once its anchors are removed.
REGEX_META = re.compile(r"[.^$*+?{}\[\]|()\\]")
ESCAPED = re.compile(r"\\([/.\-_~:=&%])")  # escaped characters that stand for themselves


def literal(pattern):
    """The fixed text `pattern` (of path() or re_path(), or an i18n prefix) matches, or None
    when it takes a parameter or matches more than one text."""
    from django.urls.resolvers import LocalePrefixPattern, RegexPattern, RoutePattern

    if isinstance(pattern, LocalePrefixPattern):
        return pattern.language_prefix
    if isinstance(pattern, RoutePattern):
        return None if pattern.converters else str(pattern)
    if isinstance(pattern, RegexPattern):
        text = str(pattern).removeprefix("^").removesuffix("$").removesuffix(r"\Z")
        if REGEX_META.search(ESCAPED.sub("", text)):
            return None
        return ESCAPED.sub(r"\1", text)
    return None


def walk(patterns, prefix, found):
    from django.urls import URLPattern, URLResolver

    for entry in patterns:
        part = literal(entry.pattern)
        if part is None:
            continue
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin":
                found["admin"].append("/" + prefix + part)
            else:
                walk(entry.url_patterns, prefix + part, found)
        elif isinstance(entry, URLPattern):
            path = "/" + prefix + part
            if path not in found["routes"]:
                found["routes"].append(path)


def main():
    import django

    django.setup()
    from django.conf import settings
    from django.shortcuts import resolve_url
    from django.urls import get_resolver

    found = {"routes": [], "admin": []}
    walk(get_resolver().url_patterns, "", found)
    found["login_url"] = str(resolve_url(settings.LOGIN_URL))
    found["static_url"] = settings.STATIC_URL or ""
    found["media_url"] = settings.MEDIA_URL or ""
    print(json.dumps(found))


if __name__ == "__main__":
    main()
