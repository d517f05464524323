"""The environment server under load on loopback: N concurrent clients x M episodes each, with bad traffic.

  python benchmarks/server_load.py [--clients 8] [--episodes 20] [--rounds 1] [--idle-s 2] [--out FILE.json]

The server runs in its own process (python -m integrations.server); each client is a thread with its own
RemoteMedicalEnv (one keep-alive connection) playing validation tasks, the scripted expert's episode and a
random-call episode in turn. Beside them, one thread sends malformed, oversized and unknown-session requests
and opens sessions it then abandons mid-episode. Reported: episodes/s, p50/p99 step latency over HTTP and of
the same steps on an in-process MedicalEnv, errors on the legitimate traffic (should be 0), the bad requests'
status codes, and after the run (idle sessions expired) the server's open sessions and resident memory
(after each round with --rounds: a leak climbs round after round, a cache levels off).
"""
import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import env as envmod  # noqa: E402
from clinic import bank  # noqa: E402
from integrations import client  # noqa: E402


def episodes(tasks, k, n, rng):
    """n (task, actions) of client k: the expert's and random calls' episodes in turn."""
    out = []
    for m in range(n):
        task = tasks[(k * n + m) % len(tasks)]
        if m % 2 == 0:
            actions = envmod.expert_actions(task)
        else:
            actions = [envmod.format_call(rng.choice(["get_vitals", "order_lab", "think", "nope"]),
                                          {"test": "troponin"}) for _ in range(rng.randrange(1, 6))]
            actions.append(envmod.format_call("submit_answer", {"answer": rng.choice("ABCD")}))
        out.append((task, actions))
    return out


def timed_episodes(e, work, latencies):
    """Play each (task, actions) on e, remote or in-process (the same Gymnasium calls), timing every step."""
    for task, actions in work:
        e.reset(options={"task_id": task["id"]})
        for a in actions:
            t0 = time.perf_counter()
            done = any(e.step(a)[2:4])
            latencies.append(time.perf_counter() - t0)
            if done:
                break


def play(address, work, latencies, errors):
    e = client.RemoteMedicalEnv(address, max_turns=8)
    try:
        timed_episodes(e, work, latencies)
    except Exception as x:      # noqa: BLE001  (counted: the run must report it, not stop)
        errors.append(f"{type(x).__name__}: {x}")
    e.close()


def bad_traffic(port, statuses, n_abandoned=5):
    def send(method, path, body=b"", headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            statuses.append(conn.getresponse().status)
        except OSError as x:
            statuses.append(type(x).__name__)
        conn.close()
    for _ in range(5):
        send("POST", "/reset", b"{broken", {"Content-Length": "7"})
        send("POST", "/step", b"x" * 100, {"Content-Length": str(50 * 2 ** 20)})
        send("POST", "/step", json.dumps({"session_id": "gone", "action": {"text": ""}}).encode())
        send("GET", "/nowhere")
    before = health(port)["sessions"]
    for _ in range(n_abandoned):        # clients that vanish mid-episode
        e = client.RemoteMedicalEnv(f"http://127.0.0.1:{port}", split="validation")
        e.reset(seed=1)
        e.step(envmod.format_call("get_vitals", {}))
        e.conn.close()                  # no close(): the session is left to expire
    statuses.append(f"abandoned sessions open: {health(port)['sessions'] - before}")


def in_process(work):
    lat = []
    timed_episodes(envmod.MedicalEnv(tasks=[task for task, _ in work], max_turns=8), work, lat)
    return lat


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def health(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/health")
    return json.loads(conn.getresponse().read())


def pct(xs, q):
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))] * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--idle-s", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=1, help="play the clients' episodes this many times")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "server_load.json"))
    a = ap.parse_args()
    proc = subprocess.Popen([sys.executable, "-m", "integrations.server", "--port", str(a.port),
                             "--max-sessions", str(a.clients + 16), "--idle-s", str(a.idle_s)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        proc.stdout.readline()          # "serving ..." once it listens
        rss_start = rss_mb(proc.pid)
        tasks = bank.load_tasks(split="validation")
        rng = random.Random(0)
        work = [episodes(tasks, k, a.episodes, rng) for k in range(a.clients)]
        latencies, errors, statuses, rss_rounds, walls = [], [], [], [], []
        for r in range(a.rounds):       # the same load again: memory must level off, not climb
            address = f"http://127.0.0.1:{a.port}"
            threads = [threading.Thread(target=play, args=(address, w, latencies, errors)) for w in work]
            if r == 0:
                threads.append(threading.Thread(target=bad_traffic, args=(a.port, statuses)))
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            walls.append(time.perf_counter() - t0)
            rss_rounds.append(round(rss_mb(proc.pid), 1))
        wall = sum(walls)
        during = health(a.port)["sessions"]
        time.sleep(a.idle_s + 0.5)
        after = health(a.port)["sessions"]
        rss_end = rss_mb(proc.pid)
        local = in_process([x for w in work for x in w])
        latencies = latencies[:len(local)]     # the first round's steps, the same as the in-process ones
        n = a.clients * a.episodes * a.rounds
        out = {"clients": a.clients, "episodes": n, "rounds": a.rounds, "wall_s": round(wall, 2),
               "episodes_per_s": round(n / wall, 2), "steps": len(latencies),
               "http_step_ms_p50": round(pct(latencies, 0.5), 2),
               "http_step_ms_p99": round(pct(latencies, 0.99), 2),
               "in_process_step_ms_p50": round(pct(local, 0.5), 2),
               "in_process_step_ms_p99": round(pct(local, 0.99), 2),
               "errors": len(errors), "error_samples": errors[:3],
               "bad_request_statuses": sorted({str(s) for s in statuses}),
               "sessions_open_at_end": during, "sessions_after_idle_expiry": after,
               "server_rss_mb_start": round(rss_start, 1), "server_rss_mb_after_each_round": rss_rounds,
               "server_rss_mb_end": round(rss_end, 1)}
        print(json.dumps(out, indent=1))
        with open(a.out, "w") as f:
            json.dump(out, f, indent=1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
