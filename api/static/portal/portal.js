// The employer portal: sign-in with authorization code + PKCE (RFC 6749 §4.1, RFC 7636 S256) as the public
// client "hrss-portal", then the employer's own file through the public GraphQL API only.
//
// The access token lives in this script's memory and nowhere else: a reload or a new tab signs in again, and no
// script of another page of the origin can read it from storage. Only the PKCE verifier and the state, needed
// across the redirect to the login page and back, are kept in sessionStorage (this tab only), and removed as soon
// as the callback has used them. Every value from the API reaches the page as text (textContent), never as HTML.
"use strict";

(() => {
  const CLIENT_ID = "hrss-portal";
  const PURPOSE = "用人单位查询本单位信用信息";
  const PAGE = 20;
  const VERIFIER_KEY = "hrss-portal.pkce-verifier";
  const STATE_KEY = "hrss-portal.state";
  const portalBase = new URL(".", window.location.href); // /portal/ from /portal/ and /portal/callback alike
  const apiBase = new URL("../", portalBase);
  const redirectUri = new URL("callback", portalBase).href;

  let accessToken = null;
  let metadata = null;
  let records = [];
  let recordsCursor = null;
  let accessCursor = null;

  const LABELS = {
    grade: { A_PLUS: "A+级（优秀）", A: "A级（良好）", B: "B级（一般）", C: "C级（较差）" },
    category: { BASIC: "基础信息", ENHANCING: "增信信息", DISHONESTY: "失信信息" },
    type: {
      WAGE_ARREARS_BLACKLIST: "拖欠农民工工资失信联合惩戒对象名单", ADMINISTRATIVE_PENALTY: "行政处罚",
      FALSE_MATERIALS: "提供虚假材料、隐瞒真实情况", BROKEN_COMMITMENT: "告知承诺不实或违反承诺",
      JUDGMENT_DEFAULTER: "失信被执行人", VIOLATION_CORRECTED: "违法行为及时纠正未受处罚",
      ARBITRATION_LOST: "劳动人事争议仲裁败诉", AWARD: "评比达标表彰", HARMONIOUS_LABOR_RELATIONS: "劳动关系和谐企业",
      INTERVIEW: "约谈记录",
    },
    severity: { MINOR: "轻微", GENERAL: "一般", SERIOUS: "严重" },
    status: { ACTIVE: "有效", UNDER_OBJECTION: "异议处理中", CORRECTED: "已更正", REPAIRED: "已修复", REVOKED: "已撤销" },
    objection: { SUBMITTED: "已受理", VERIFYING: "核查中", CORRECTED: "已更正", REJECTED: "异议不成立" },
    repair: { SUBMITTED: "已提交，待审核", APPROVED: "已修复", REJECTED: "不予修复" },
    sector: {
      GOVERNMENT_FUNDING: "政府资金支持", GOVERNMENT_PROCUREMENT: "政府采购", BIDDING: "招标投标",
      FINANCING_LOANS: "融资贷款", MARKET_ACCESS: "市场准入", TAX_INCENTIVES: "税收优惠", AWARDS: "评优评先",
      TRAVEL: "交通出行", STARTUP_GUARANTEE_LOANS: "创业担保贷款及贴息", YOUTH_INTERNSHIP_BASES: "青年见习基地",
      COMMITMENT_APPROVAL: "告知承诺等简化程序",
    },
    measure: { INCENTIVE: "激励", PUNISHMENT: "惩戒" },
    audience: {
      procurement: "政府采购/公共资源交易", finance: "金融机构/担保中心", employment: "就业促进中心",
      inspection: "劳动保障监察", portal: "公共信用信息门户", "source-unit": "原行政行为作出单位",
      admin: "人社局信用管理", auditor: "审计", employer: "本单位",
    },
  };

  // -- small helpers --------------------------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);
  const label = (kind, value) => (value == null ? "—" : LABELS[kind][value] || value);

  function formatDate(iso) {
    // A GraphQL Date is YYYY-MM-DD: shown as YYYY年M月D日, with no time-zone arithmetic at all.
    if (!iso) return "—";
    const [y, m, d] = iso.split("-").map(Number);
    return `${y}年${m}月${d}日`;
  }

  const TIME = new Intl.DateTimeFormat("en-CA", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });

  function formatDateTime(iso) {
    // An instant is shown on the bureau's clock (Beijing time), whatever the browser's zone.
    if (!iso) return "—";
    const parts = Object.fromEntries(TIME.formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
    return `${formatDate(`${parts.year}-${parts.month}-${parts.day}`)} ${parts.hour}:${parts.minute}`;
  }

  const cite = (basis) => (basis ? [basis.document, basis.article].filter(Boolean).join(" ") : "—");

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function row(...cells) {
    const tr = document.createElement("tr");
    cells.forEach((c) => tr.append(c instanceof Node ? c : cell(c)));
    return tr;
  }

  function fill(bodyId, emptyId, items, toRow) {
    $(bodyId).replaceChildren(...items.map(toRow));
    $(emptyId).hidden = items.length > 0;
  }

  function show(text, isError) {
    const message = $("message");
    message.textContent = text;
    message.className = isError ? "error" : "";
    message.hidden = !text;
  }

  function base64url(bytes) {
    return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  const randomString = () => base64url(crypto.getRandomValues(new Uint8Array(32)));

  // -- OAuth ----------------------------------------------------------------------------------------------

  async function loadMetadata() {
    const response = await fetch(new URL(".well-known/oauth-authorization-server", apiBase));
    if (!response.ok) throw new Error("无法读取授权服务器信息，请稍后再试。");
    return response.json();
  }

  async function signIn() {
    const verifier = randomString();
    const state = randomString();
    const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    sessionStorage.setItem(VERIFIER_KEY, verifier);
    sessionStorage.setItem(STATE_KEY, state);
    const url = new URL(metadata.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: "code", client_id: CLIENT_ID, redirect_uri: redirectUri, state,
      code_challenge: challenge, code_challenge_method: "S256",
    }).toString();
    window.location.assign(url.href);
  }

  const CALLBACK_ERRORS = {
    access_denied: "您已取消登录。",
    temporarily_unavailable: "登录服务暂时不可用，请稍后再试。",
  };

  async function handleCallback() {
    const params = new URLSearchParams(window.location.search);
    const expectedState = sessionStorage.getItem(STATE_KEY);
    const verifier = sessionStorage.getItem(VERIFIER_KEY);
    sessionStorage.removeItem(STATE_KEY);
    sessionStorage.removeItem(VERIFIER_KEY);
    // The code must not stay in the address bar, the history or a bookmark.
    window.history.replaceState(null, "", portalBase.pathname);
    if (!expectedState || params.get("state") !== expectedState) {
      throw new Error("登录状态校验失败（state 不一致），请重新登录。");
    }
    // RFC 9207: the response names its issuer, so a response from another server is refused.
    if (params.has("iss") && params.get("iss") !== metadata.issuer) {
      throw new Error("登录响应来自未知的授权服务器，请重新登录。");
    }
    if (params.has("error")) {
      throw new Error(CALLBACK_ERRORS[params.get("error")] || `登录失败：${params.get("error")}`);
    }
    const response = await fetch(metadata.token_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "Accept-Language": "zh-CN" },
      body: new URLSearchParams({
        grant_type: "authorization_code", code: params.get("code") || "", redirect_uri: redirectUri,
        client_id: CLIENT_ID, code_verifier: verifier || "",
      }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok || !body.access_token) {
      throw new Error(`登录失败（${body.error || response.status}），请重新登录。`);
    }
    accessToken = body.access_token;
  }

  function signOut(text) {
    accessToken = null;
    records = [];
    sessionStorage.removeItem(STATE_KEY);
    sessionStorage.removeItem(VERIFIER_KEY);
    $("portal").hidden = true;
    $("account").hidden = true;
    $("signed-out").hidden = false;
    show(text || "", false);
  }

  // -- GraphQL --------------------------------------------------------------------------------------------

  class ApiError extends Error {}

  async function gql(query, variables) {
    let response;
    try {
      response = await fetch(new URL("graphql", apiBase), {
        method: "POST",
        headers: {
          Authorization: `Bearer ${accessToken}`,
          "Content-Type": "application/json",
          Accept: "application/json",
          "Accept-Language": "zh-CN",
          "X-Purpose": encodeURIComponent(PURPOSE),
        },
        body: JSON.stringify({ query, variables: variables || {} }),
      });
    } catch (e) {
      throw new ApiError("无法连接服务器，请检查网络后重试。");
    }
    if (response.status === 401) {
      signOut("登录已过期，请重新登录。");
      throw new ApiError("登录已过期，请重新登录。");
    }
    const body = await response.json().catch(() => null);
    if (body && body.errors && body.errors.length) {
      throw new ApiError(body.errors.map((e) => e.message).join("；"));
    }
    if (!response.ok || !body) throw new ApiError(`服务器错误（${response.status}），请稍后再试。`);
    return body.data;
  }

  const BASIS = "legalBasis { document article }";
  const RECORDS = `records(includeInactive: true, first: ${PAGE}, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { id category type severity status title decisionNumber sourceUnit decidedOn publishedUntil
      ${BASIS} } } }`;
  const FILE = `query Portal($after: String) { me {
    name uscc
    grade { level asOf cycleStart cycleEnd disputed explanation rule { document article }
      basis { id title decisionNumber } measures { kind description ${BASIS} } }
    ${RECORDS}
    restrictions { sector measure since until exception disputed ${BASIS} sourceRecord { title decisionNumber } }
    objections { id status reason receivedOn dueOn deadlinesProvisional decidedAt decision
      record { id title decisionNumber } }
    repairs { id status submittedAt decidedAt decision record { id title decisionNumber } }
  } }`;
  const MORE_RECORDS = `query Records($after: String) { me { ${RECORDS} } }`;
  const ACCESS_LOG = `query AccessLog($after: String) { me { accessLog(first: ${PAGE}, after: $after) {
    edges { node { at audience purpose operation } } pageInfo { hasNextPage endCursor } } } }`;
  const SUBMIT_OBJECTION = `mutation Objection($recordId: ID!, $reason: String!) {
    submitObjection(recordId: $recordId, reason: $reason) { id dueOn deadlinesProvisional } }`;
  const APPLY_REPAIR = `mutation Repair($recordId: ID!, $statement: String!, $commitment: Boolean) {
    applyRepair(recordId: $recordId, statement: $statement, commitment: $commitment) { id status } }`;

  // -- rendering ------------------------------------------------------------------------------------------

  function renderGrade(grade) {
    const body = $("grade-body");
    if (!grade) {
      body.textContent = "暂无信用等级评价结果。";
      return;
    }
    const head = document.createElement("p");
    const level = document.createElement("span");
    level.className = `grade-level grade-${grade.level}`;
    level.id = "grade-level";
    level.textContent = label("grade", grade.level);
    head.append(level, `评价日期：${formatDate(grade.asOf)}　评价周期：${formatDate(grade.cycleStart)}至${formatDate(grade.cycleEnd)}`);
    if (grade.disputed) head.append(tag("异议处理中"));
    const explanation = document.createElement("p");
    explanation.id = "grade-explanation";
    explanation.textContent = grade.explanation;
    const rule = document.createElement("p");
    rule.id = "grade-rule";
    rule.textContent = `评价依据：${cite(grade.rule)}`;
    const parts = [head, explanation, rule];
    if (grade.basis.length) parts.push(list("决定等级的信用记录：", grade.basis.map((r) => `${r.title}（${r.decisionNumber}）`)));
    if (grade.measures.length) {
      parts.push(list("相应措施：", grade.measures.map((m) => `【${label("measure", m.kind)}】${m.description}（${cite(m.legalBasis)}）`)));
    }
    body.replaceChildren(...parts);
  }

  function tag(text) {
    const span = document.createElement("span");
    span.className = "tag";
    span.textContent = text;
    return span;
  }

  function list(title, items) {
    const div = document.createElement("div");
    const p = document.createElement("p");
    p.textContent = title;
    const ul = document.createElement("ul");
    items.forEach((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      ul.append(li);
    });
    div.append(p, ul);
    return div;
  }

  function recordActions(record) {
    const td = cell("", "ops");
    if (record.status === "ACTIVE") {
      td.append(button("提出异议", () => openForm("objection", record)));
      if (record.category === "DISHONESTY") td.append(button("申请信用修复", () => openForm("repair", record)));
    }
    return td;
  }

  function button(text, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "secondary";
    b.textContent = text;
    b.addEventListener("click", onClick);
    return b;
  }

  function renderRecords() {
    fill("records-body", "records-empty", records, (r) => {
      const tr = row(
        cell(label("category", r.category), "nowrap"),
        `${r.title}${r.severity ? `（${label("severity", r.severity)}）` : ""}`,
        r.decisionNumber, r.sourceUnit, cell(formatDate(r.decidedOn), "date"),
        cell(formatDate(r.publishedUntil), "date"), cite(r.legalBasis), cell(label("status", r.status), "nowrap"), recordActions(r),
      );
      tr.dataset.record = r.id;
      return tr;
    });
    $("records-more").hidden = !recordsCursor;
  }

  function renderFile(me) {
    $("account-name").textContent = me.name;
    $("subject-name").textContent = me.name;
    $("subject-uscc").textContent = me.uscc || "—";
    renderGrade(me.grade);
    records = me.records.edges.map((e) => e.node);
    recordsCursor = me.records.pageInfo.hasNextPage ? me.records.pageInfo.endCursor : null;
    renderRecords();
    fill("restrictions-body", "restrictions-empty", me.restrictions, (r) => row(
      label("sector", r.sector), r.measure, cell(formatDate(r.since), "date"), cell(formatDate(r.until), "date"),
      cite(r.legalBasis), r.sourceRecord ? `${r.sourceRecord.title}（${r.sourceRecord.decisionNumber}）` : "—",
      [r.exception, r.disputed ? "来源记录异议处理中" : ""].filter(Boolean).join("；") || "—",
    ));
    fill("objections-body", "objections-empty", me.objections, (o) => row(
      `${o.record.title}（${o.record.decisionNumber}）`, o.reason, cell(formatDate(o.receivedOn), "date"),
      cell(`${formatDate(o.dueOn)}${o.deadlinesProvisional ? "（暂按周一至周五推算）" : ""}`, "date"),
      cell(label("objection", o.status), "nowrap"),
      o.decidedAt ? `${formatDateTime(o.decidedAt)}：${o.decision || ""}` : "—",
    ));
    fill("repairs-body", "repairs-empty", me.repairs, (r) => row(
      `${r.record.title}（${r.record.decisionNumber}）`, cell(formatDateTime(r.submittedAt), "date"),
      cell(label("repair", r.status), "nowrap"), r.decidedAt ? `${formatDateTime(r.decidedAt)}：${r.decision || ""}` : "—",
    ));
  }

  async function loadFile() {
    const data = await gql(FILE, {});
    if (!data.me) throw new ApiError("未找到本单位的信用主体信息。");
    renderFile(data.me);
    $("signed-out").hidden = true;
    $("portal").hidden = false;
    $("account").hidden = false;
  }

  async function loadAccessLog(append) {
    const error = $("access-log-error");
    error.hidden = true;
    try {
      const data = await gql(ACCESS_LOG, { after: append ? accessCursor : null });
      const log = data.me.accessLog;
      const rows = log.edges.map(({ node }) => row(
        cell(formatDateTime(node.at), "date"), label("audience", node.audience), node.purpose || "未说明",
        node.operation || "—",
      ));
      if (append) $("access-log-body").append(...rows);
      else $("access-log-body").replaceChildren(...rows);
      $("access-log-empty").hidden = $("access-log-body").children.length > 0;
      accessCursor = log.pageInfo.hasNextPage ? log.pageInfo.endCursor : null;
      $("access-log-more").hidden = !accessCursor;
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      error.textContent = `查询记录暂时无法显示：${e.message}`;
      error.hidden = false;
    }
  }

  // -- objection and repair forms -------------------------------------------------------------------------

  let formRecord = null;

  function openForm(kind, record) {
    formRecord = record;
    $("objection-form").hidden = kind !== "objection";
    $("repair-form").hidden = kind !== "repair";
    $(`${kind}-record`).textContent = `${record.title}（${record.decisionNumber}）`;
    const form = $(`${kind}-form`);
    form.querySelector("textarea").value = "";
    form.scrollIntoView({ block: "center" });
    form.querySelector("textarea").focus();
  }

  function closeForms() {
    formRecord = null;
    $("objection-form").hidden = true;
    $("repair-form").hidden = true;
  }

  async function submitObjection(event) {
    event.preventDefault();
    const reason = $("objection-reason").value;
    const data = await gql(SUBMIT_OBJECTION, { recordId: formRecord.id, reason });
    const due = data.submitObjection;
    closeForms();
    await loadFile();
    show(`异议已提交，办理期限：${formatDate(due.dueOn)}${due.deadlinesProvisional ? "（暂按周一至周五推算）" : ""}。`, false);
  }

  async function applyRepair(event) {
    event.preventDefault();
    const data = await gql(APPLY_REPAIR, {
      recordId: formRecord.id, statement: $("repair-statement").value, commitment: $("repair-commitment").checked,
    });
    closeForms();
    await loadFile();
    show(`信用修复申请已提交（${label("repair", data.applyRepair.status)}）。`, false);
  }

  // -- start ----------------------------------------------------------------------------------------------

  function guarded(action) {
    return async (event) => {
      try {
        await action(event);
      } catch (e) {
        show(e instanceof Error ? e.message : String(e), true);
      }
    };
  }

  async function start() {
    metadata = await loadMetadata();
    if (new URL(metadata.issuer).origin !== window.location.origin) {
      // The redirect URI is registered on the issuer's origin, and sessionStorage is per origin.
      window.location.replace(new URL("portal/", `${metadata.issuer}/`).href);
      return;
    }
    if (!metadata.authorization_endpoint) throw new Error("此服务器未启用用人单位登录。");
    if (portalBase.pathname + "callback" !== window.location.pathname) {
      signOut();
      return;
    }
    $("loading").hidden = false;
    try {
      await handleCallback();
      await loadFile();
      await loadAccessLog(false);
    } finally {
      $("loading").hidden = true;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("sign-in").addEventListener("click", guarded(signIn));
    $("sign-out").addEventListener("click", () => signOut("您已退出登录。"));
    $("records-more").addEventListener("click", guarded(async () => {
      const data = await gql(MORE_RECORDS, { after: recordsCursor });
      records = records.concat(data.me.records.edges.map((e) => e.node));
      recordsCursor = data.me.records.pageInfo.hasNextPage ? data.me.records.pageInfo.endCursor : null;
      renderRecords();
    }));
    $("access-log-more").addEventListener("click", guarded(() => loadAccessLog(true)));
    $("objection-form").addEventListener("submit", guarded(submitObjection));
    $("repair-form").addEventListener("submit", guarded(applyRepair));
    document.querySelectorAll("[data-close]").forEach((b) => b.addEventListener("click", closeForms));
    guarded(async () => {
      try {
        await start();
      } catch (e) {
        signOut();
        throw e;
      }
    })();
  });
})();
