"""The employer portal end to end in headless Chromium: sign in on the real login page, read the employer's own
file, file an objection and a repair application, sign out; never another employer's data."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from auth.accounts import DEMO_EMPLOYER_PASSWORD
from store.demo import named_subjects
from tests.portal.conftest import admin_query, read_as, screenshot_path

UNDER_OBJECTION = "91310107372667332X"  # 上海启盛餐饮管理有限公司: C grade, restriction, an objection
PENALIZED = "91310117MA12QF388C"  # 上海盛宏建设工程有限公司: C grade, a fulfilled penalty, a lost arbitration

FILE = """query SubjectFile($uscc: String!) { subject(ref: {uscc: $uscc}) {
  name grade { explanation rule { article } }
  records(includeInactive: true) { edges { node { type decisionNumber } } }
  restrictions { sector since until }
  objections { dueOn record { decisionNumber } }
} }"""


def chinese_date(iso: str) -> str:
    year, month, day = (int(part) for part in iso.split("-"))
    return f"{year}年{month}月{day}日"


async def sign_in(page: Any, base: str, uscc: str) -> list[str]:
    """Sign in through the portal and the login page; the bodies of every /graphql response the page gets."""
    bodies: list[str] = []

    async def keep(response: Any) -> None:
        if response.url.endswith("/graphql"):
            bodies.append(await response.text())

    page.on("response", lambda response: asyncio.ensure_future(keep(response)))
    await page.goto(base + "/portal/")
    await page.click("#sign-in")
    await page.fill("#username", uscc)
    await page.fill("#password", DEMO_EMPLOYER_PASSWORD)
    path = screenshot_path("login")
    if path:
        await page.screenshot(path=str(path))
    await page.click("button[value=login]")
    await page.wait_for_selector("#portal:not([hidden])")
    # The access log is the last section to load (selectors, not script: the page's CSP forbids eval).
    await page.locator(
        "#access-log-body tr, #access-log-empty:not([hidden]), #access-log-error:not([hidden])"
    ).first.wait_for()
    return bodies


async def test_an_employer_signs_in_sees_its_own_file_and_signs_out(portal_base: str, page: Any) -> None:
    expected = (await asyncio.to_thread(admin_query, portal_base, FILE, {"uscc": UNDER_OBJECTION}))["subject"]
    bodies = await sign_in(page, portal_base, UNDER_OBJECTION)

    # The code is gone from the address bar, and nothing but memory holds the token.
    assert page.url == portal_base + "/portal/"
    assert await page.evaluate("[localStorage.length, sessionStorage.length]") == [0, 0]

    assert await page.text_content("#subject-name") == expected["name"]
    assert await page.text_content("#subject-uscc") == UNDER_OBJECTION
    assert await page.text_content("#grade-level") == "C级（较差）"
    assert await page.text_content("#grade-explanation") == expected["grade"]["explanation"]
    assert expected["grade"]["rule"]["article"] in (await page.text_content("#grade-rule") or "")
    records = await page.inner_text("#records-body")
    for edge in expected["records"]["edges"]:
        assert edge["node"]["decisionNumber"] in records
    assert "异议处理中" in records
    restrictions = await page.inner_text("#restrictions-body")
    assert expected["restrictions"], "the demo employer has a restriction"
    for restriction in expected["restrictions"]:
        assert chinese_date(restriction["since"]) in restrictions
    assert "告知承诺等简化程序" in restrictions
    objections = await page.inner_text("#objections-body")
    assert [chinese_date(o["dueOn"]) in objections for o in expected["objections"]] == [True]

    path = screenshot_path("overview")
    if path:
        await page.screenshot(path=str(path), full_page=True)

    # No other employer's name or code reached the page, in its text or in any answer the API gave it.
    text = await page.inner_text("body")
    everything = text + "".join(bodies)
    assert any(json.loads(body).get("data") for body in bodies)
    others = [(s.name, s.uscc) for s in named_subjects() if s.uscc and s.uscc != UNDER_OBJECTION]
    assert [other for other in others if other[0] in everything or str(other[1]) in everything] == []

    await page.click("#sign-out")
    await page.wait_for_selector("#signed-out:not([hidden])")
    assert await page.text_content("#message") == "您已退出登录。"
    assert await page.is_hidden("#portal")


async def test_an_employer_files_an_objection_and_applies_for_repair(portal_base: str, page: Any) -> None:
    await sign_in(page, portal_base, PENALIZED)
    before = (await asyncio.to_thread(admin_query, portal_base, FILE, {"uscc": PENALIZED}))["subject"]
    numbers = {edge["node"]["type"]: edge["node"]["decisionNumber"] for edge in before["records"]["edges"]}
    arbitration = page.locator("#records-body tr", has_text=numbers["ARBITRATION_LOST"])
    penalty = page.locator("#records-body tr", has_text=numbers["ADMINISTRATIVE_PENALTY"])

    await arbitration.get_by_role("button", name="提出异议").click()
    await page.fill("#objection-reason", "仲裁裁决已被人民法院撤销，请核查后更正。")
    await page.click("#objection-form button[type=submit]")
    await page.wait_for_selector("#message:has-text('异议已提交')")

    after = (await asyncio.to_thread(admin_query, portal_base, FILE, {"uscc": PENALIZED}))["subject"]
    (filed,) = [o for o in after["objections"] if o["record"]["decisionNumber"] == numbers["ARBITRATION_LOST"]]
    due = chinese_date(filed["dueOn"])
    assert due in (await page.text_content("#message") or "")
    row = page.locator("#objections-body tr", has_text=numbers["ARBITRATION_LOST"])
    assert due in await row.inner_text()
    assert "异议处理中" in await arbitration.inner_text()

    # Without the credit commitment the API refuses the repair, and the page says so.
    await penalty.get_by_role("button", name="申请信用修复").click()
    await page.fill("#repair-statement", "已于决定后足额退还押金并整改，罚款已缴纳。")
    await page.uncheck("#repair-commitment")
    await page.click("#repair-form button[type=submit]")
    await page.wait_for_selector("#message.error")
    assert await page.is_visible("#repair-form")

    await page.check("#repair-commitment")
    await page.click("#repair-form button[type=submit]")
    await page.wait_for_selector("#message:has-text('信用修复申请已提交')")
    repair = page.locator("#repairs-body tr", has_text=numbers["ADMINISTRATIVE_PENALTY"])
    assert "已提交，待审核" in await repair.inner_text()

    path = screenshot_path("objection-and-repair")
    if path:
        await page.locator("#objections").scroll_into_view_if_needed()
        await page.screenshot(path=str(path), full_page=True)


async def test_a_callback_whose_state_was_not_issued_here_is_refused(portal_base: str, page: Any) -> None:
    tokens: list[str] = []
    page.on("request", lambda request: tokens.append(request.url) if "/oauth/token" in request.url else None)
    await page.goto(portal_base + "/portal/callback?code=stolen-code&state=forged")
    await page.wait_for_selector("#signed-out:not([hidden])")
    assert "state" in (await page.text_content("#message") or "")
    assert tokens == []
    assert page.url == portal_base + "/portal/"


READ_BY_OTHERS = "91310107MA17CGYP5K"  # 上海瑞安建设工程有限公司 (wage-arrears blacklist), read by departments here
CHECK = "query BidderCheck($u: String!) { subject(ref: {uscc: $u}) { name } }"
INSPECT = "query DailyInspection($u: String!) { subject(ref: {uscc: $u}) { grade { level } } }"


async def test_an_employer_pages_through_who_read_its_file(portal_base: str, page: Any) -> None:
    variables = {"u": READ_BY_OTHERS}
    # One more read than a page holds, then the newest, so both the order and the second page show.
    await asyncio.to_thread(read_as, portal_base, "procurement", CHECK, variables, purpose="招标资格审查", times=20)
    await asyncio.to_thread(read_as, portal_base, "inspection", INSPECT, variables, purpose="日常监管")
    await sign_in(page, portal_base, READ_BY_OTHERS)

    rows = page.locator("#access-log-body tr")
    assert await rows.count() == 20
    first = await rows.nth(0).locator("td").all_inner_texts()
    assert first[1:] == ["劳动保障监察", "日常监管", "DailyInspection"]
    assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}", first[0]), first[0]
    second = await rows.nth(1).locator("td").all_inner_texts()
    assert second[1:] == ["政府采购/公共资源交易", "招标资格审查", "BidderCheck"]

    await page.click("#access-log-more")
    await rows.nth(20).wait_for()
    texts = await page.inner_text("#access-log-body")
    # 20 procurement reads and 1 inspection read, and not one of the employer's own (the portal's) reads.
    assert await rows.count() == 21
    assert texts.count("BidderCheck") == 20 and "用人单位查询本单位信用信息" not in texts
    assert await page.is_hidden("#access-log-more")

    path = screenshot_path("access-log")
    if path:
        await page.locator("#access-log").screenshot(path=str(path))
