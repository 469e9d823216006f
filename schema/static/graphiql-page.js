// Qinglian's GraphiQL page: the IDE against the address the page was served from, over HTTP for queries and
// mutations and over WebSocket for subscriptions. Loaded after React, ReactDOM and GraphiQL, all served
// by the service itself, so the page works on a machine without Internet access.
(function () {
  "use strict";

  var root = document.getElementById("graphiql");

  if (
    typeof React === "undefined" ||
    typeof ReactDOM === "undefined" ||
    typeof GraphiQL === "undefined"
  ) {
    // One of the files did not load (a proxy in the way, a broken install): say so rather than stay blank.
    root.textContent =
      "GraphiQL's files did not load from this server (see the browser console for which). " +
      "The API itself works without them: POST a JSON body such as " +
      '{"query": "{ city { name } }"} to this address.';
    return;
  }

  var url = window.location.href.split(/[?#]/)[0];
  var socket = new URL(url);
  socket.protocol = socket.protocol === "https:" ? "wss:" : "ws:";
  socket.hash = "";

  var fetcher = GraphiQL.createFetcher({ url: url, subscriptionUrl: socket.toString() });

  var example = [
    "# Qinglian's GraphQL API. Ctrl-Enter runs the operation; Docs (top left) lists every field.",
    "# Signed in? Put your token under Headers below: {\"Authorization\": \"Bearer <token>\"}",
    "",
    "{",
    "  city {",
    "    name",
    "    asOf",
    "    coverage {",
    "      communities",
    "      standardized",
    "      rate",
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: example,
      defaultEditorToolsVisibility: true,
      inputValueDeprecation: true,
      isHeadersEditorEnabled: true,
      // Headers hold bearer tokens: kept for the tab, never written to the browser's storage.
      shouldPersistHeaders: false,
    }),
  );
})();
