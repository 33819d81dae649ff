// Starts GraphiQL (with the explorer plugin) on the page api/graphiql.py serves.
//
// The token lives in the headers pane only. Stored headers would sit in localStorage, readable by any script of
// this origin long after the tab is closed: GraphiQL is told not to persist them, its storage drops every
// "headers" field it is handed (the query history keeps them whatever that setting says), headers never go into
// the address bar, and tokens an earlier page stored are removed. The schema is fetched once the headers hold an
// Authorization value, and again when it changes; before that every request would be a 401.
(function () {
  "use strict";

  const endpoint = window.location.origin + window.location.pathname;
  const params = new URLSearchParams(window.location.search);
  const HEADERS_TEMPLATE = '{\n  "Authorization": "Bearer "\n}';
  const WELCOME = [
    "# hrss-credit GraphiQL",
    "#",
    "# 在下方 Headers 填入令牌后，",
    "# Docs 与 Explorer 即加载 schema。",
    "# With a token in Headers below,",
    "# Docs and Explorer load the schema.",
    "# Ctrl-Enter 运行查询 / runs the query.",
    "",
    "{ catalogue { recordTypes } }",
    "",
  ].join("\n");

  function forgetStoredHeaders() {
    try {
      window.localStorage.removeItem("graphiql:headers");
      window.localStorage.removeItem("graphiql:shouldPersistHeaders");
      for (const key of ["graphiql:tabState", "graphiql:queries", "graphiql:favorites"]) {
        const stored = window.localStorage.getItem(key);
        if (stored && /authorization/i.test(stored)) {
          window.localStorage.setItem(key, withoutHeaders(stored));
        }
      }
    } catch (ignored) {
      // Storage disabled: then nothing was stored either.
    }
  }

  // GraphiQL's storage (tabs, query history, the query and variables of the last session) without headers.
  function withoutHeaders(value) {
    try {
      return JSON.stringify(JSON.parse(value), (name, field) => (name === "headers" ? undefined : field));
    } catch (ignored) {
      return value; // not JSON: a query or variables as typed
    }
  }

  const NAMESPACE = "graphiql:";
  const storage = {
    getItem: (key) => window.localStorage.getItem(key),
    setItem: (key, value) => {
      if (key !== NAMESPACE + "headers") {
        window.localStorage.setItem(key, withoutHeaders(value));
      }
    },
    removeItem: (key) => window.localStorage.removeItem(key),
    get length() {
      return Object.keys(window.localStorage).filter((key) => key.startsWith(NAMESPACE)).length;
    },
    clear: () => {
      for (const key of Object.keys(window.localStorage)) {
        if (key.startsWith(NAMESPACE)) {
          window.localStorage.removeItem(key);
        }
      }
    },
  };

  // The Authorization value of the headers pane when it holds a credential ("Bearer" and something), else null.
  function authorizationOf(text) {
    let headers;
    try {
      headers = JSON.parse(text || "{}");
    } catch (ignored) {
      return null;
    }
    if (!headers || typeof headers !== "object") {
      return null;
    }
    for (const name of Object.keys(headers)) {
      const value = headers[name];
      if (name.toLowerCase() === "authorization" && typeof value === "string" && /^\S+\s+\S+/.test(value.trim())) {
        return value.trim();
      }
    }
    return null;
  }

  function fetcherFor(authorization) {
    // HTTP requests carry the headers pane as GraphiQL sends it; a subscription's WebSocket cannot carry headers,
    // so the token goes in its connection_init payload, where the server looks for it.
    return GraphiQL.createFetcher({
      url: endpoint,
      subscriptionUrl: endpoint.replace(/^http/, "ws"),
      wsConnectionParams: authorization ? { Authorization: authorization } : {},
    });
  }

  function remember(name, value) {
    if (value) {
      params.set(name, value);
    } else {
      params.delete(name);
    }
    const search = params.toString();
    window.history.replaceState(null, "", search ? "?" + search : window.location.pathname);
  }

  const initial = {
    query: params.get("query") || undefined,
    variables: params.get("variables") || undefined,
  };

  function App() {
    const [authorization, setAuthorization] = React.useState(null);
    const fetcher = React.useMemo(() => fetcherFor(authorization), [authorization]);
    const explorer = React.useMemo(() => GraphiQLPluginExplorer.explorerPlugin(), []);
    const pending = React.useRef(null);

    // Typing a token fires an edit per keystroke: the schema is fetched once the value has settled.
    function onEditHeaders(text) {
      window.clearTimeout(pending.current);
      pending.current = window.setTimeout(() => setAuthorization(authorizationOf(text)), 300);
    }

    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      // null: no introspection (it would only be refused); undefined: GraphiQL introspects with the headers pane.
      schema: authorization ? undefined : null,
      plugins: [explorer],
      storage: storage,
      defaultQuery: WELCOME,
      query: initial.query,
      variables: initial.variables,
      defaultHeaders: HEADERS_TEMPLATE,
      headers: HEADERS_TEMPLATE,
      onEditQuery: (value) => remember("query", value),
      onEditVariables: (value) => remember("variables", value),
      onEditOperationName: (value) => remember("operationName", value),
      onEditHeaders: onEditHeaders,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      showPersistHeadersSettings: false,
      inputValueDeprecation: true,
    });
  }

  forgetStoredHeaders();
  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(App));
})();
