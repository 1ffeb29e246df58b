// Interactive API docs rendered from /openapi.json: every operation with its parameters,
// request body and responses, and a "Send" button that calls it with the token given above.
"use strict";

const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
};

function resolve(doc, schema, depth = 0) {
  if (!schema || depth > 6) return schema;
  if (schema.$ref) {
    const name = schema.$ref.split("/").pop();
    return resolve(doc, doc.components?.schemas?.[name], depth + 1);
  }
  return schema;
}

function example(doc, schema, depth = 0) {
  schema = resolve(doc, schema, depth);
  if (!schema || depth > 5) return null;
  if (schema.example !== undefined) return schema.example;
  const type = Array.isArray(schema.type) ? schema.type.find(t => t !== "null") : schema.type;
  if (schema.oneOf) return example(doc, schema.oneOf[0], depth + 1);
  if (schema.enum) return schema.enum[0];
  switch (type) {
    case "object": {
      const out = {};
      for (const [k, v] of Object.entries(schema.properties || {})) out[k] = example(doc, v, depth + 1);
      return out;
    }
    case "array": return [example(doc, schema.items, depth + 1)];
    case "integer": case "number": return 0;
    case "boolean": return false;
    case "string": return "";
    default: return null;
  }
}

function operation(doc, path, method, op) {
  const params = op.parameters || [];
  const inputs = {};
  const table = el("table", { class: "params" });
  for (const p of params) {
    const input = el("input", { placeholder: p.schema?.type || "" });
    inputs[p.name] = { p, input };
    table.append(el("tr", {}, el("td", {}, el("code", {}, p.name), p.required ? " *" : ""), el("td", {}, p.in), el("td", {}, input), el("td", {}, p.description || "")));
  }
  const content = op.requestBody?.content || {};
  const json = content["application/json"];
  const bodyBox = Object.keys(content).length ? el("textarea", {}) : null;
  if (bodyBox && json) bodyBox.value = JSON.stringify(example(doc, json.schema), null, 2);
  const out = el("pre", {}, "");
  const statusLine = el("div", {});
  const send = el("button", { onclick: async () => {
    let url = path;
    const query = new URLSearchParams();
    for (const { p, input } of Object.values(inputs)) {
      if (!input.value) continue;
      if (p.in === "path") url = url.replace(`{${p.name}}`, encodeURIComponent(input.value));
      else if (p.in === "query") query.set(p.name, input.value);
    }
    if ([...query].length) url += "?" + query;
    const headers = {};
    const token = document.getElementById("token").value.trim();
    if (token) headers.Authorization = "Bearer " + token;
    let body;
    if (bodyBox) { body = bodyBox.value; headers["Content-Type"] = json ? "application/json" : Object.keys(content)[0]; }
    const t0 = performance.now();
    try {
      const r = await fetch(url, { method: method.toUpperCase(), headers, body });
      const text = await r.text();
      statusLine.className = r.ok ? "status-ok" : "status-err";
      statusLine.textContent = `${r.status} ${r.statusText} · ${(performance.now() - t0).toFixed(0)} ms · ${method.toUpperCase()} ${url}`;
      try { out.textContent = JSON.stringify(JSON.parse(text), null, 2); } catch { out.textContent = text.slice(0, 200000); }
    } catch (e) {
      statusLine.className = "status-err"; statusLine.textContent = String(e);
    }
  } }, "Send");
  const responses = el("ul", {});
  for (const [code, r] of Object.entries(op.responses || {})) responses.append(el("li", {}, el("code", {}, code), " ", r.description || ""));
  const secured = (op.security || []).length > 0;
  return el("details", { class: "op" },
    el("summary", {}, el("span", { class: "method " + method }, method.toUpperCase()), path, secured ? el("span", { class: "lock", title: "needs a token" }, " 🔒") : "", " — ", op.summary || ""),
    el("div", { class: "body" },
      op.description ? el("p", {}, op.description) : "",
      params.length ? table : "",
      bodyBox ? el("div", {}, el("div", {}, "Request body (" + Object.keys(content).join(", ") + ")"), bodyBox) : "",
      send, statusLine, out,
      el("div", {}, "Responses:"), responses));
}

async function main() {
  const token = document.getElementById("token");
  token.value = sessionStorage.getItem("alara-token") || "";
  token.addEventListener("change", () => sessionStorage.setItem("alara-token", token.value));
  const doc = await (await fetch("/openapi.json")).json();
  document.getElementById("summary").textContent = `${doc.info.title} ${doc.info.version} · OpenAPI ${doc.openapi} · ${doc.info.description || ""}`;
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of ["get", "post", "put", "delete", "patch"]) {
      const op = item[method];
      if (!op) continue;
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operation(doc, path, method, op));
    }
  }
  const main = document.getElementById("ops");
  for (const t of doc.tags || []) if (!byTag.has(t.name)) byTag.set(t.name, []);
  for (const [tag, ops] of byTag) {
    const desc = (doc.tags || []).find(t => t.name === tag)?.description || "";
    main.append(el("h2", { id: "tag-" + tag }, tag), el("p", {}, desc), ...ops);
  }
}

main().catch(e => { document.getElementById("summary").textContent = "Could not load /openapi.json: " + e; });
