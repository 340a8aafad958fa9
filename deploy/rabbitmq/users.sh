#!/usr/bin/env bash
# Give the hub's RabbitMQ users their passwords, from the environment, through the management API.
#
#   HUB_RABBIT_PASSWORD_HUB=… HUB_RABBIT_PASSWORD_UNIT_MG_CERESP_BH=… deploy/rabbitmq/users.sh [definitions.json]
#
# definitions.json (default: the one beside this script, written by `python -m hub topology`) lists
# every user with an empty password hash, which RabbitMQ takes as "no password login", and its
# permissions. For each user this script:
#   * sets the password from HUB_RABBIT_PASSWORD_<USER>, where <USER> is the user name in upper case
#     with every character other than A-Z and 0-9 replaced by "_" (unit-mg.ceresp-bh ->
#     HUB_RABBIT_PASSWORD_UNIT_MG_CERESP_BH);
#   * without such a variable, creates the user with no password login if it does not exist, and
#     leaves an existing user alone (the management API would clear a password on a tags update);
#   * (re)applies its permissions and its limits (max-connections, max-channels) as the
#     definitions say.
# Then it deletes the `guest` user (its password is public), unless HUB_RABBIT_KEEP_GUEST=1 (a
# development broker that other tools log in to as guest).
# The management API is HUB_RABBIT__MANAGEMENT_URL (the hub's own setting; default
# http://guest:guest@127.0.0.1:15672/), as an administrator. Passwords are never printed or written
# to disk; use https for a management API that is not on loopback.
set -euo pipefail

DEFINITIONS=${1:-"$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/definitions.json"}
export HUB_USERS_DEFINITIONS=$DEFINITIONS

exec python3 - <<'PY'
import base64
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

url = urllib.parse.urlsplit(
    os.environ.get("HUB_RABBIT__MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672/")
)
api = f"{url.scheme}://{url.hostname}:{url.port or 15672}/api"
login = f"{urllib.parse.unquote(url.username or 'guest')}:{urllib.parse.unquote(url.password or 'guest')}"
auth = "Basic " + base64.b64encode(login.encode()).decode()


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(api + path, data=data, method=method)
    req.add_header("Authorization", auth)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as e:
        if method == "GET" and e.code == 404:
            return 404
        sys.exit(f"[users] {method} {path}: HTTP {e.code} {e.read()[:200]!r}")


def q(name):
    return urllib.parse.quote(name, safe="")


with open(os.environ["HUB_USERS_DEFINITIONS"], encoding="utf-8") as f:
    doc = json.load(f)
for user in doc.get("users", []):
    name, tags = user["name"], ",".join(user.get("tags", []))
    var = "HUB_RABBIT_PASSWORD_" + re.sub(r"[^A-Z0-9]", "_", name.upper())
    password = os.environ.get(var)
    if password:
        call("PUT", f"/users/{q(name)}", {"password": password, "tags": tags})
        print(f"[users] {name}: password set from {var}")
    elif call("GET", f"/users/{q(name)}") == 404:
        call("PUT", f"/users/{q(name)}", {"password_hash": "", "tags": tags})
        print(f"[users] {name}: created without password login ({var} is not set)")
    else:
        print(f"[users] {name}: exists, password kept ({var} is not set)")
for p in doc.get("permissions", []):
    perms = {k: p[k] for k in ("configure", "write", "read")}
    call("PUT", f"/permissions/{q(p['vhost'])}/{q(p['user'])}", perms)
limits = 0
for user in doc.get("users", []):
    for name, value in user.get("limits", {}).items():
        call("PUT", f"/user-limits/{q(user['name'])}/{q(name)}", {"value": value})
        limits += 1
print(f"[users] {len(doc.get('users', []))} users, {len(doc.get('permissions', []))} permissions,"
      f" {limits} limits")
if os.environ.get("HUB_RABBIT_KEEP_GUEST") == "1":
    print("[users] guest kept (HUB_RABBIT_KEEP_GUEST=1)")
elif call("GET", "/users/guest") != 404:
    call("DELETE", "/users/guest")
    print("[users] guest deleted")
PY
