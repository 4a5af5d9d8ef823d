// The statistics dashboard (/users/stats): counts by status, type and verification, period
// over period figures, and the growth chart (new users as bars, the running total as a line).
"use strict";

import { get } from "./api.js";
import { $, el, label, select, tableHead } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  element.append(...children);
  return element;
}

function card(title, pairs) {
  return el("section", { class: "card", "aria-label": title }, el("h2", {}, title),
    el("dl", {}, pairs.flatMap(([term, value]) =>
      [el("dt", {}, term), el("dd", {}, Number(value).toLocaleString("en"))])));
}

function change(c) {
  const sign = c.delta > 0 ? "+" : "";
  return c.percent === null ? `${sign}${c.delta}` : `${sign}${c.delta} (${sign}${c.percent.toFixed(1)} %)`;
}

// The first day of a growth range: 30 days, 26 weeks or 24 months back.
function rangeStart(interval, today) {
  const from = new Date(today);
  if (interval === "day") from.setUTCDate(from.getUTCDate() - 29);
  else if (interval === "week") from.setUTCDate(from.getUTCDate() - 7 * 25);
  else from.setUTCMonth(from.getUTCMonth() - 23, 1);
  return from.toISOString().slice(0, 10);
}

function chart(points) {
  const width = 720;
  const height = 240;
  const pad = 36;
  const maxNew = Math.max(1, ...points.map((p) => p.new_users));
  const maxTotal = Math.max(1, ...points.map((p) => p.total_users));
  const step = (width - 2 * pad) / Math.max(1, points.length);
  const bars = points.map((p, i) => {
    const h = ((height - 2 * pad) * p.new_users) / maxNew;
    return svg("rect", {
      x: pad + i * step + step * 0.15, y: height - pad - h, width: step * 0.7, height: h, class: "bar",
    }, svg("title", {}, `${p.start}: ${p.new_users} new, ${p.total_users} in total`));
  });
  const line = points.map((p, i) =>
    `${pad + i * step + step / 2},${height - pad - ((height - 2 * pad) * p.total_users) / maxTotal}`).join(" ");
  const axis = [0, Math.floor(points.length / 2), points.length - 1]
    .filter((i, n, all) => i >= 0 && all.indexOf(i) === n && points[i])
    .map((i) => svg("text", { x: pad + i * step + step / 2, y: height - 10, "text-anchor": "middle" }, points[i].start));
  return svg("svg", {
    viewBox: `0 0 ${width} ${height}`, role: "img", id: "growth-chart",
    "aria-label": `New users per bucket (bars, up to ${maxNew}) and total users (line, up to ${maxTotal})`,
  },
  svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, class: "axis" }),
  ...bars, svg("polyline", { points: line, class: "total" }), ...axis,
  svg("text", { x: pad, y: pad - 12 }, `max ${maxNew} new`),
  svg("text", { x: width - pad, y: pad - 12, "text-anchor": "end", class: "total-label" }, `${maxTotal} total`));
}

async function growth(interval) {
  const today = new Date().toISOString().slice(0, 10);
  const params = new URLSearchParams({ interval, from: rangeStart(interval, today), to: today });
  const points = await get(`/v1/users/analytics/growths?${params}`);
  $("growth").replaceChildren(chart(points), el("details", {}, el("summary", {}, "Figures"),
    el("table", {}, tableHead(["From", "New users", "Total users"]),
      el("tbody", {}, points.map((p) => el("tr", {}, el("td", {}, p.start), el("td", {}, p.new_users), el("td", {}, p.total_users)))))));
}

async function overview(period) {
  const o = await get(`/v1/users/analytics/overview?period=${period}`);
  $("overview").replaceChildren(el("table", {},
    tableHead(["", "This period", "Previous", "Change"]),
    el("tbody", {}, [["New users", "new_users"], ["Active users", "active_users"], ["Deleted users", "deleted_users"]]
      .map(([caption, key]) => el("tr", {}, el("th", { scope: "row" }, caption),
        el("td", {}, o.current[key]), el("td", {}, o.previous[key]), el("td", {}, change(o[`${key}_change`])))))));
}

export async function showStats() {
  document.title = "Statistics — usermgmt admin";
  const stats = await get("/v1/users/stats");
  const periodSelect = select("period", ["day", "week", "month", "quarter", "year"], { selected: "month" });
  periodSelect.id = "period";
  const intervalSelect = select("interval", ["day", "week", "month"], { selected: "week" });
  intervalSelect.id = "interval";
  $("stats-body").replaceChildren(
    el("div", { class: "cards" },
      card("Users", [["Total (not deleted)", stats.total], ["Registered in 7 days", stats.registered_last_7_days], ["Registered in 30 days", stats.registered_last_30_days]]),
      card("By status", Object.entries(stats.by_status).map(([s, n]) => [label(s), n])),
      card("By type", [["Admins", stats.by_type.admins], ["Instructors", stats.by_type.instructors], ["Learners", stats.by_type.learners]]),
      card("Verification", [["Email verified", stats.by_verification.email_verified], ["Phone verified", stats.by_verification.phone_verified], ["Unverified", stats.by_verification.unverified]])),
    el("h2", {}, "Period over period"),
    el("div", { class: "field" }, el("label", { for: "period" }, "Period"), periodSelect),
    el("div", { id: "overview" }),
    el("h2", {}, "Growth"),
    el("div", { class: "field" }, el("label", { for: "interval" }, "Interval"), intervalSelect),
    el("div", { id: "growth" }),
  );
  periodSelect.addEventListener("change", () => overview(periodSelect.value));
  intervalSelect.addEventListener("change", () => growth(intervalSelect.value));
  await Promise.all([overview("month"), growth("week")]);
}
