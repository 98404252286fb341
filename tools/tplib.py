"""Helpers shared by tools/api-fuzz and bench/run: a throwaway PostgreSQL cluster, a running
`tenderpool serve`, a tiny JSON client, and the standard data set."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_binary(path, rebuild=False):
    """`path` if given; else target/release/tenderpool, built (or rebuilt, incrementally,
    with `rebuild`) first."""
    if path and os.path.exists(path):
        return path
    path = os.path.join(ROOT, "target", "release", "tenderpool")
    if rebuild or not os.path.exists(path):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    return path


class Postgres:
    """A throwaway cluster in a temporary folder (as the tests start one), fsync off."""

    def __init__(self):
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        self.bindir = bindir
        self.dir = tempfile.mkdtemp(prefix="tp-pg-")
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            os.chmod(self.dir, 0o755)
            shutil.chown(self.dir, user="postgres")
        self.data = os.path.join(self.dir, "data")
        self.run(["initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync"])
        opts = f"-k {self.dir} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self.run(["pg_ctl", "-D", self.data, "-o", opts, "-l", os.path.join(self.dir, "log"), "-w", "start"])
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, cmd, **kw):
        cmd = [os.path.join(self.bindir, cmd[0])] + cmd[1:]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        return subprocess.run(cmd, check=True, stdout=kw.pop("stdout", subprocess.DEVNULL), **kw)

    def stop(self):
        try:
            self.run(["pg_ctl", "-D", self.data, "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class Api:
    def __init__(self, base):
        self.base = base

    def call(self, method, path, token, body=None, expect=(200, 201)):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as res:
                status, text = res.status, res.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        if status not in expect:
            raise SystemExit(f"{method} {path} answered {status}: {text}")
        return json.loads(text) if text else None


class Server:
    """`tenderpool serve` on a free loopback port with `env`; stopped by `stop()`."""

    def __init__(self, binary, env, log_path):
        subprocess.run([binary, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([binary, "serve", "--bind", f"127.0.0.1:{self.port}"], env=env,
                                     stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                urllib.request.urlopen(self.base + "/health", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("tenderpool serve did not start")

    def peak_rss_mb(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def token(binary, env, args):
    out = subprocess.run([binary, "token", "create"] + args, env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


OFFICES = [
    ("NMH", "Nantes Métropole Habitat", "27440001600094", 25000),
    ("BMH", "Brest Métropole Habitat", "27290003200017", 13000),
    ("ARCH", "Archipel Habitat", "27350004700017", 14000),
]


def seed_group(api, binary, env):
    """Three offices, a supplier, a group with signed conventions; the tokens by user, the
    group and an open campaign."""
    admin = token(binary, env, ["--role", "admin", "--name", "admin"])
    for code, name, siret, dwellings in OFFICES:
        api.call("POST", "/api/v1/members", admin, {
            "code": code, "legal_name": name, "siret": siret, "dwellings": dwellings,
            "contact_email": f"achats@{code.lower()}.fr"})
    supplier = api.call("POST", "/api/v1/suppliers", admin, {
        "legal_name": "BTP Ouest", "siret": "51234567800019",
        "contact_emails": ["devis@btp-ouest.fr"], "cpv_divisions": ["45", "09"]})
    group = api.call("POST", "/api/v1/groups", admin, {
        "name": "Groupement Ouest", "coordinator": "NMH", "members": ["NMH", "BMH", "ARCH"],
        "cost_sharing_key": "dwellings", "coordinator_fee_percent": "1.5"})
    for code, *_ in OFFICES:
        api.call("POST", f"/api/v1/groups/{group['id']}/members/{code}/convention", admin, {})
    users = {
        "admin": admin,
        "lead": token(binary, env, ["--role", "lead", "--member", "NMH", "--name", "lead"]),
        "nmh": token(binary, env, ["--role", "officer", "--member", "NMH", "--name", "nmh"]),
        "bmh": token(binary, env, ["--role", "officer", "--member", "BMH", "--name", "bmh"]),
        "supplier": token(binary, env, ["--role", "supplier", "--supplier", supplier["id"], "--name", "supplier"]),
    }
    deadline = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 30 * 86400))
    campaign = api.call("POST", f"/api/v1/groups/{group['id']}/campaigns", users["lead"], {
        "title": "Entretien 2027", "needs_deadline": deadline})
    return users, group, campaign


def wanted_by(days=90):
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + days * 86400))
