"""Authorization costs nothing per field: the procurement audience's single look-up against the admin schema's.

Both run the same query through the real app (compiled schema of each audience, real tokens), interleaved in
rounds so that drift on the machine hits both alike; the figure is the ratio of the medians.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from api.app import create_app
from api.settings import Settings

QUERY = """query ($u: String!) { subject(ref: {uscc: $u}) {
  name uscc grade { level } restrictions(sector: GOVERNMENT_PROCUREMENT) { sector measure since until } } }"""


async def bench_authz(url: str, codes: list[str], requests: int) -> None:
    settings = Settings(env="dev", data_dir=Path(tempfile.mkdtemp(prefix="hrss-bench-")), log_level="WARNING")
    app = create_app(settings, database_url=url)
    rng = random.Random(5)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            tokens = {name: app.state.auth_server.issue_token(name) for name in ("procurement", "admin")}
            timings: dict[str, list[float]] = {name: [] for name in tokens}
            for i in range(requests + 50):
                code = rng.choice(codes)
                for name, token in tokens.items() if i % 2 else reversed(tokens.items()):
                    started = time.perf_counter()
                    response = await client.post(
                        "/graphql",
                        json={"query": QUERY, "variables": {"u": code}},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    elapsed = (time.perf_counter() - started) * 1000
                    assert response.status_code == 200 and "errors" not in response.json(), response.text
                    if i >= 50:
                        timings[name].append(elapsed)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    for name, values in timings.items():
        values.sort()
        print(
            f"single look-up as {name:<11}: median {medians[name]:.2f} ms, "
            f"p99 {values[int(len(values) * 0.99)]:.2f} ms, {1000 / statistics.mean(values):.0f} requests/s sequential"
        )
    ratio = medians["procurement"] / medians["admin"]
    print(f"procurement / admin median: {ratio:.3f} (target: within 10%, i.e. <= 1.10)")
