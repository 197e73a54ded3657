// livechart 页面脚本：每个图表一画好新的一版就取来显示，只取新的。
// - 对准重绘：每个图表的 setInterval 周期是任务的实时间隔（比浏览器定时器上限还长的间隔改用逐个节拍的 setTimeout），
//   相位对准任务的节拍（状态里的 next_run）加上最近几版里最短的绘制用时（节拍 → 画好）；到点时带 If-None-Match
//   请求 /charts/<名>[变体].png?t=<这一版的节拍>：还没画好时服务器回答 304（不下载），隔 RETRY_MS 再问，
//   最多问到大半个间隔；有新版本时下载、加载好再替换（不闪烁）。
//   节拍刚换过（改了间隔、恢复）时，第一次取图不早于换过之后的那个 next_run（新节拍上更早的节拍并不存在）。
// - 定时器取不到的新版本（别人用 REST 立即运行、画得比再问的时限还晚、间隔刚改长），状态轮询看到就立即取一次，
//   t 是它画好的时刻。
// - 变体（livechart/variants.py）：按屏幕选 2×（高分屏或图被拉宽时）、暗色（prefers-color-scheme: dark）、
//   窄版式（手机）；屏幕变了立即换。
// - “更新于”是显示着的这张图画好的时刻（响应头 X-Livechart-Rendered-At），不是状态轮询里的。
// - 标签页隐藏时停止所有轮询，重新可见时立即刷新。
// 每个图表有状态徽章（实时 / 已暂停 / 已过期 / 错误）和控制按钮，按钮调用 /scheduler API（同源 JSON）。
// 页面上的时长（刷新间隔、“N 秒前”、间隔选项）都经 duration() 写成“5 分钟”“1 分 30 秒”这样的说法。
(() => {
  "use strict";

  const STATUS_POLL_MS = 2000; // 轮询 /api/charts 的周期：跟上别人改的间隔与暂停
  const CLOCK_MS = 1000; // “N 秒前”的更新周期
  const STUCK_MS = 15000; // 一次请求超过这么久还没完成，就放弃它重新请求
  const LEAD_MS = 15; // 预计画好之后再等这么久才去取
  const RETRY_MS = 80; // 还没有新版本（304）时隔多久再问；之后每次加倍，最多 RETRY_MAX_MS
  const RETRY_MAX_MS = 640;
  const RETRY_SHARE = 0.6; // 每个节拍最多再问到间隔的这么大一部分，且不超过 RETRY_WINDOW_MS
  const RETRY_WINDOW_MS = 3000; // 更晚画好的版本由状态轮询发现（它每两秒一次）
  const LAGS = 10; // 记住最近这么多版的绘制用时（节拍 → 画好）
  // 每个页面随机晚这么一点（0–SPREAD_MS 毫秒，打开时定下）：几百个观看者不在同一毫秒一起请求（bench/README.md）
  const SPREAD_MS = 60;
  const spread = Math.random() * SPREAD_MS;
  const REPHASE_MS = 60; // 定时器偏离预计画好的时刻超过这么多就重新对准
  const NARROW_WIDTH = 400; // 窄版式的宽（逻辑像素，与 livechart/variants.py 相同）
  const statusUrl = document.body.dataset.statusUrl;
  const schedulerUrl = document.body.dataset.schedulerUrl;
  // 超过这么多个间隔没有新图即为过期：由服务器给出（livechart/views.py 的 STALE_INTERVALS），这里不另写一遍
  const staleIntervals = Number(document.body.dataset.staleIntervals);
  const charts = new Map();
  const template = document.getElementById("chart-template");
  const darkQuery = window.matchMedia("(prefers-color-scheme: dark)");
  const narrowQuery = window.matchMedia("(max-width: 600px)");
  let statusTimer = null;
  let clockTimer = null;
  let clockOffsetMs = 0; // 服务器时间 − 本机时间
  let lastPollAt = 0; // 最近一次读 /api/charts 的时刻

  // 一个图表区块 → 图表的状态对象（页面上原有的，和配置文件里新增、由模板复制出来的）
  function adopt(el) {
    const interval = parseFloat(el.dataset.interval);
    const chart = {
      el,
      img: el.querySelector("img.plot"),
      src: el.dataset.src,
      job: el.dataset.job,
      width: Number(el.dataset.width) || 800,
      stale: false,
      error: null,
      reason: null,
      warnings: [],
      intervalMs: Number.isFinite(interval) ? interval * 1000 : null,
      paused: el.dataset.paused === "true",
      version: null, // 状态里默认图的版本
      statusRenderedAt: null, // 状态里默认图画好的时刻（服务器时间，毫秒）
      shown: null, // 显示着的图：{ url, etag, version, renderedAt }
      tickAt: null, // 任务的某一个节拍（服务器时间，毫秒；来自状态的 next_run）：节拍的相位
      floorAt: null, // 节拍换过之后的第一次运行（服务器时间，毫秒）：对准时不早于它
      askedTick: null, // 定时器在节拍上要过、还没等到的那一版的节拍（服务器时间，毫秒）
      lags: [], // 最近几版从节拍到画好用了多久（毫秒）
      renderMs: 0, // 状态里最新一版的取数加绘制用时（毫秒）：还没有 lags 时的估计
      timer: null,
      retry: null,
      nextTickAt: 0, // 下一个节拍（本机时间，毫秒）
      inflight: null,
      objectUrl: null,
    };
    charts.set(el.dataset.name, chart);
    bindControls(chart);
    return chart;
  }

  // 时长（秒）→ 给人看的写法：2 秒、5 分钟、1 分 30 秒、1 小时、1 小时 30 分钟、2 天 3 小时；为 0 的单位省略
  function duration(seconds) {
    if (seconds < 60 && !Number.isInteger(seconds)) return `${Number(seconds.toFixed(1))} 秒`;
    let rest = Math.round(seconds);
    const parts = [];
    for (const [size, unit] of [[86400, "天"], [3600, "小时"], [60, "分钟"], [1, "秒"]]) {
      const count = Math.floor(rest / size);
      rest -= count * size;
      if (count) parts.push([count, unit]);
    }
    if (!parts.length) return "0 秒";
    // “1 分 30 秒”：分钟后面还有秒时写“分”
    return parts.map(([count, unit], index) => `${count} ${unit === "分钟" && index < parts.length - 1 ? "分" : unit}`).join(" ");
  }

  function setText(chart, selector, text) {
    chart.el.querySelector(selector).textContent = text;
  }

  // 这个图表现在该看哪个变体：暗色、窄版式、2×（livechart/variants.py 的路径后缀）
  function imageUrl(chart) {
    const narrow = narrowQuery.matches && chart.width > NARROW_WIDTH;
    const logical = narrow ? NARROW_WIDTH : chart.width;
    const shownWidth = chart.img.clientWidth || logical;
    const sharp = shownWidth * (window.devicePixelRatio || 1) > logical * 1.1;
    const suffix = `${darkQuery.matches ? ".dark" : ""}${narrow ? ".narrow" : ""}${sharp ? "@2x" : ""}`;
    return chart.src.replace(/\.png$/, `${suffix}.png`);
  }

  function failed(chart, text) {
    // 可能是配置文件刚删掉了这个图表：马上读一次状态，而不是等下一次轮询（最多每秒一次）
    if (Date.now() - lastPollAt > 1000) pollStatus();
    chart.el.classList.add("failed");
    setText(chart, ".problem", text);
  }

  // 取这个图表的新版本：有新的就下载、解码、替换；没有（304）就过一会儿再问。
  // onTick：定时器在节拍上取（和之后的再问），只有这样取到的一版才记下绘制用时；
  // at：状态里看到的那一版画好的时刻，作为它的 t（两次节拍之间画出的版本没有自己的节拍）
  async function refresh(chart, { onTick = false, at = null, retries = 0, firstAskedAt = Date.now() } = {}) {
    clearTimeout(chart.retry);
    chart.retry = null;
    if (chart.inflight) {
      if (Date.now() - chart.inflight.since < STUCK_MS) return;
      chart.inflight.controller.abort(); // 卡住太久的请求：放弃它，否则这个图表再也不会刷新
    }
    const url = imageUrl(chart);
    const shown = chart.shown && chart.shown.url === url ? chart.shown : null;
    // 节拍刚换过时，显示着的这一版之后的“下一个节拍”可能早于换过之后的第一次运行：那个节拍不存在
    const tickAsked = shown && chart.intervalMs ? Math.max(nextTick(chart), chart.floorAt ?? -Infinity) : null;
    const expected = at ?? tickAsked ?? Date.now() + clockOffsetMs;
    if (onTick && at === null && tickAsked !== null) chart.askedTick = tickAsked;
    const request = { controller: new AbortController(), since: Date.now(), replanned: false };
    chart.inflight = request;
    try {
      // t：这一版的节拍（服务器时间）或画好的时刻；同一版的几次询问是同一个地址
      const response = await fetch(`${url}?t=${Math.round(expected)}`, {
        cache: "no-store",
        headers: shown ? { "If-None-Match": shown.etag } : {},
        signal: request.controller.signal,
      });
      if (!charts.has(chart.el.dataset.name)) return; // 配置文件刚删掉了这个图表
      if (response.status === 304) {
        // 还没画好这一版：稍后再问，间隔加倍（暂停、出错、标签页隐藏、请求途中改了节拍时不问：状态轮询看到新版本会叫它）
        const limit = Math.min(RETRY_WINDOW_MS, (chart.intervalMs || 0) * RETRY_SHARE);
        const delay = Math.min(RETRY_MS * 2 ** retries, RETRY_MAX_MS);
        const asking = !chart.paused && !chart.error && !document.hidden && !request.replanned;
        if (Date.now() + delay - firstAskedAt <= limit && asking) {
          chart.retry = setTimeout(() => refresh(chart, { onTick, at, retries: retries + 1, firstAskedAt }), delay);
        }
        return;
      }
      if (!response.ok) {
        failed(chart, "图片加载失败，先显示上一张，稍后自动重试");
        return;
      }
      // 显示出来之前一直算“在取”：这期间的状态轮询不会以为还没有图、再取一遍同一版
      // 绘制用时只从定时器在节拍上要的那一版算（请求途中节拍换了的不算：那是旧节拍上的）
      const asked = onTick && at === null && tickAsked !== null && !request.replanned ? tickAsked : null;
      await show(chart, url, response, await response.blob(), asked);
    } catch (error) {
      // 被放弃的卡住的请求（已经换了一个）不算失败
      if (charts.has(chart.el.dataset.name) && chart.inflight === request) failed(chart, "图片加载失败，先显示上一张，稍后自动重试");
    } finally {
      if (chart.inflight === request) chart.inflight = null;
    }
  }

  // 解码好新图再替换旧的 <img>（不闪烁），记下它是哪一版；asked 是定时器取图时要的节拍（不是定时器取的时为 null）
  async function show(chart, url, response, blob, asked) {
    const objectUrl = URL.createObjectURL(blob);
    const next = new Image();
    next.className = chart.img.className;
    next.alt = chart.img.alt;
    next.src = objectUrl;
    try {
      await new Promise((resolve, reject) => {
        next.onload = resolve;
        next.onerror = reject;
      });
    } catch (error) {
      URL.revokeObjectURL(objectUrl);
      failed(chart, "图片解码失败，先显示上一张，稍后自动重试");
      return;
    }
    if (!charts.has(chart.el.dataset.name)) {
      URL.revokeObjectURL(objectUrl); // 加载期间配置文件删掉了这个图表
      return;
    }
    const renderedAt = Number(response.headers.get("X-Livechart-Rendered-At"));
    const version = Number(response.headers.get("X-Livechart-Version"));
    next.dataset.version = String(version);
    next.dataset.renderedAt = String(renderedAt);
    next.dataset.src = new URL(response.url).pathname + new URL(response.url).search;
    chart.img.replaceWith(next);
    chart.img = next;
    if (chart.objectUrl) URL.revokeObjectURL(chart.objectUrl);
    chart.objectUrl = objectUrl;
    const previous = chart.shown;
    chart.shown = { url, etag: response.headers.get("ETag"), version, renderedAt };
    // 绘制用时只从节拍上的版本算：定时器在节拍上要到的，或者定时器问过、没等到（画得比再问的时限还晚），
    // 之后由状态轮询取来的紧接着的下一版。启动时、“立即运行”、改间隔之前画的版本不在任何节拍上，
    // 按节拍算出的“用时”可以长达一个间隔，会把下一次取图推迟一个间隔（docs/pitfalls.md 第 44 条）
    const late = previous !== null && previous.url === url && version === previous.version + 1 ? chart.askedTick : null;
    const tick = asked ?? late;
    if (tick !== null && renderedAt >= tick && renderedAt - tick < chart.intervalMs) {
      chart.lags = [...chart.lags, renderedAt - tick].slice(-LAGS);
    }
    chart.askedTick = null; // 只有定时器问过、还没等到的那个节拍才算（之后的“立即运行”不能算到它头上）
    chart.el.classList.remove("failed");
    setText(chart, ".problem", "");
    showClock();
    align(chart);
  }

  const MAX_DELAY_MS = 2 ** 31 - 1;
  // 状态里 reason.code 对应的徽章文字
  const REASONS = { no_job: "没有任务", job_paused: "已暂停", scheduler_paused: "调度器已暂停", scheduler_stopped: "调度器未运行" };

  function tick(chart) {
    chart.nextTickAt += chart.intervalMs;
    refresh(chart, { onTick: true });
  }

  // 按任务的实时间隔安排刷新：第一个节拍在 firstAt（本机时间），之后每个间隔一次（setInterval）。
  // 浏览器把超过 2^31−1 毫秒的延迟当作 0，不处理的话很长的间隔会变成死循环（docs/pitfalls.md 第 23、38 条）：
  // 更远的第一个节拍先等到上限再重新安排；比上限还长的间隔不用 setInterval，每个节拍之后重新安排
  function schedule(chart, firstAt = null) {
    clearInterval(chart.timer);
    clearTimeout(chart.timer);
    chart.timer = null;
    if (document.hidden || chart.paused || !chart.intervalMs) return;
    const long = chart.intervalMs > MAX_DELAY_MS;
    if (firstAt === null && !long) {
      chart.nextTickAt = Date.now() + chart.intervalMs;
      chart.timer = setInterval(() => tick(chart), chart.intervalMs);
      return;
    }
    const at = firstAt ?? Date.now() + chart.intervalMs;
    chart.nextTickAt = at;
    const wait = at - Date.now();
    if (wait > MAX_DELAY_MS) {
      chart.timer = setTimeout(() => schedule(chart, at), MAX_DELAY_MS);
      return;
    }
    chart.timer = setTimeout(() => {
      if (long) {
        tick(chart);
        schedule(chart, chart.nextTickAt);
        return;
      }
      chart.timer = setInterval(() => tick(chart), chart.intervalMs);
      tick(chart);
    }, Math.max(0, wait));
  }

  // 画好于 renderedAt 的那一版属于哪个节拍（服务器时间）；还不知道节拍的相位时为 null
  function tickOf(chart, renderedAt) {
    if (chart.tickAt === null || !chart.intervalMs) return null;
    return chart.tickAt + Math.floor((renderedAt - chart.tickAt) / chart.intervalMs) * chart.intervalMs;
  }

  // 从节拍到画好预计要多久：最近几版（定时器在节拍上取到的）里最短的；还没有时用状态里最新一版的取数加绘制用时
  // （render_ms，不含调度的延迟，所以偏短：宁可早到一点再问一次，不要晚到）
  function expectedLag(chart) {
    return chart.lags.length ? Math.min(...chart.lags) : chart.renderMs;
  }

  // 显示着的这一版之后的下一个节拍（服务器时间）：下一版就在这个节拍画
  function nextTick(chart) {
    const tick = tickOf(chart, chart.shown.renderedAt);
    return tick === null ? chart.shown.renderedAt + chart.intervalMs : tick + chart.intervalMs;
  }

  // 新的一版显示出来之后：下一版预计在下一个节拍加上最近最短的绘制用时画好，定时器偏得太多就重新对准
  function align(chart) {
    if (document.hidden || chart.paused || !chart.intervalMs || !chart.shown) return;
    const lag = expectedLag(chart);
    const due = nextTick(chart) + lag + LEAD_MS + spread - clockOffsetMs;
    let offset = (chart.nextTickAt - due) % chart.intervalMs;
    if (offset > chart.intervalMs / 2) offset -= chart.intervalMs;
    if (offset < -chart.intervalMs / 2) offset += chart.intervalMs;
    // 只用相位：时钟偏差还不知道（或刚变）时 due 可能差出很多个间隔，下一个节拍总在一个间隔之内
    const now = Date.now();
    let first = now + ((((due - now) % chart.intervalMs) + chart.intervalMs) % chart.intervalMs);
    // 节拍刚换过（间隔改了、任务恢复或重新安排）：新节拍上比换过之后第一次运行更早的节拍并不存在，
    // 不这样的话会在一个不存在的节拍上取图，得到 304 再问几秒（docs/pitfalls.md 第 44 条）
    if (chart.floorAt !== null) first = Math.max(first, chart.floorAt + lag + LEAD_MS + spread - clockOffsetMs);
    if (chart.timer === null || Math.abs(offset) > REPHASE_MS) schedule(chart, first);
  }

  // 定时器会不会去取画好于 renderedAt 的那一版：那一版所在节拍的取图时刻还没过（或者正在再问）才会。
  // 不会的情形：别人用 REST “立即运行”了、这一版画得比再问的时限还晚、间隔刚改长——下一个节拍要等一整个间隔
  function timerWillFetch(chart, renderedAt) {
    if (chart.timer === null || chart.paused || chart.el.classList.contains("failed") || chart.shown === null) return false;
    if (chart.retry !== null) return true; // 还在再问这一个节拍：下一次再问就取到
    const tick = tickOf(chart, renderedAt);
    if (tick === null) return true; // 还不知道节拍的相位：交给定时器
    const lag = expectedLag(chart);
    const slot = tick + lag + LEAD_MS + spread - clockOffsetMs; // 定时器为那一版的节拍取图的时刻（本机时间）
    return chart.nextTickAt <= slot + Math.min(chart.intervalMs / 2, RETRY_WINDOW_MS);
  }

  function showPeriod(chart) {
    chart.el.classList.toggle("paused", chart.paused);
    if (chart.paused) setText(chart, ".period", chart.reason ? REASONS[chart.reason.code] || "已暂停" : "已暂停");
    else if (chart.intervalMs) setText(chart, ".period", `每 ${duration(chart.intervalMs / 1000)}刷新`);
    else setText(chart, ".period", "没有重绘任务");
    showBadge(chart);
    showControls(chart);
  }

  // 徽章：错误（悬停看消息）优先，其次已暂停、数据异常、已过期，否则实时
  function showBadge(chart) {
    const badge = chart.el.querySelector(".badge");
    let state = "live";
    let text = "实时";
    let title = "";
    if (chart.error) {
      state = "error";
      text = "错误";
      title = `${chart.error.message}（连续失败 ${chart.error.consecutive_failures} 次）`;
    } else if (chart.paused) {
      // 不在按计划重绘：徽章说明原因（没有任务、任务暂停、调度器暂停或未运行），悬停看完整的说明
      state = "paused";
      text = chart.reason ? REASONS[chart.reason.code] || "已暂停" : "已暂停";
      title = chart.reason ? chart.reason.message : "";
    } else if (chart.warnings.length) {
      // 数据有问题（来自未来的行被丢弃、超出范围的值没有画）：图照常更新，悬停看说明
      state = "warning";
      text = "数据异常";
      title = chart.warnings.map((w) => w.message).join("\n");
    } else if (chart.stale) {
      state = "stale";
      text = "已过期";
      title = chart.intervalMs
        ? `超过 ${staleIntervals} 个刷新间隔（${duration((staleIntervals * chart.intervalMs) / 1000)}）没有新图`
        : `超过 ${staleIntervals} 个刷新间隔没有新图`;
    }
    badge.dataset.state = state;
    badge.textContent = text;
    badge.title = title;
    // 错误的类型与消息直接显示在图片上方（不用悬停）；图片是上一张好图
    const error = chart.el.querySelector(".error-text");
    if (error) {
      error.hidden = !chart.error;
      error.textContent = chart.error ? `重绘失败，显示的是上一张图：${chart.error.message}` : "";
    }
  }

  function showControls(chart) {
    const controls = chart.el.querySelector(".controls");
    if (!controls) return;
    controls.querySelector('[data-action="pause"]').disabled = chart.paused || !chart.intervalMs;
    controls.querySelector('[data-action="resume"]').disabled = !chart.paused || !chart.intervalMs;
    const select = controls.querySelector("select.interval");
    if (chart.intervalMs && document.activeElement !== select) {
      const seconds = String(chart.intervalMs / 1000);
      if (![...select.options].some((o) => o.value === seconds)) select.add(new Option(duration(Number(seconds)), seconds));
      select.value = seconds;
    }
  }

  // 调用 /scheduler API：同源、JSON；401/403 显示清楚的消息而不是吞掉
  async function control(chart, path, method, body) {
    const notice = chart.el.querySelector(".notice");
    notice.textContent = "";
    let response;
    try {
      response = await fetch(`${schedulerUrl}${path}`, {
        method,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body || {}),
      });
    } catch (error) {
      notice.textContent = "请求失败：无法连接服务器";
      return;
    }
    if (response.ok) {
      await pollStatus();
      return;
    }
    let message = `HTTP ${response.status}`;
    try {
      const payload = await response.json();
      if (payload.message) message = payload.message;
    } catch (error) {
      // 不是 JSON：保留状态码
    }
    if (response.status === 401) notice.textContent = `需要 API 凭据（HTTP Basic）：${message}`;
    else if (response.status === 403) notice.textContent = `没有权限：${message}`;
    else notice.textContent = `操作失败：${message}`;
  }

  function bindControls(chart) {
    const controls = chart.el.querySelector(".controls");
    if (!controls) return;
    for (const option of controls.querySelectorAll("select.interval option")) option.textContent = duration(Number(option.value));
    const job = encodeURIComponent(chart.job);
    controls.querySelector('[data-action="pause"]').addEventListener("click", () => control(chart, `/jobs/${job}/pause`, "POST"));
    controls.querySelector('[data-action="resume"]').addEventListener("click", () => control(chart, `/jobs/${job}/resume`, "POST"));
    controls.querySelector('[data-action="run"]').addEventListener("click", async () => {
      await control(chart, `/jobs/${job}/run`, "POST");
      refresh(chart);
    });
    controls.querySelector("select.interval").addEventListener("change", (event) => {
      const seconds = Number(event.target.value);
      control(chart, `/jobs/${job}`, "PATCH", { trigger: "interval", seconds });
    });
  }

  // 配置文件重新载入之后：按 /api/charts 加上新图表、去掉删掉的图表、按配置的顺序排列、更新标题
  function followCharts(statuses) {
    const main = document.querySelector("main.charts");
    const names = new Set(statuses.map((status) => status.name));
    for (const [name, chart] of charts) {
      if (names.has(name)) continue;
      clearInterval(chart.timer);
      clearTimeout(chart.timer);
      clearTimeout(chart.retry);
      if (chart.inflight) chart.inflight.controller.abort();
      if (chart.objectUrl) URL.revokeObjectURL(chart.objectUrl);
      chart.el.remove();
      charts.delete(name);
    }
    for (const status of statuses) {
      let chart = charts.get(status.name);
      if (!chart) {
        const el = template.content.firstElementChild.cloneNode(true);
        el.id = `chart-${status.name}`;
        el.dataset.name = status.name;
        el.dataset.src = status.image_url;
        el.dataset.job = status.job_id;
        el.dataset.interval = "";
        el.dataset.paused = "false";
        el.dataset.width = String(status.width);
        el.dataset.height = String(status.height);
        el.classList.toggle("titled", status.title_in_image);
        chart = adopt(el);
        chart.intervalMs = -1; // 与任何实时间隔都不同：下面的 pollStatus 会安排刷新
        refresh(chart);
      }
      const title = chart.el.querySelector("h2");
      if (title.textContent !== status.title) {
        title.textContent = status.title;
        chart.img.alt = status.title;
      }
    }
    // 顺序与配置不同时才重排（移动元素会重排版面）
    const order = statuses.map((status) => charts.get(status.name).el);
    if (order.some((el, index) => main.children[index] !== el)) for (const el of order) main.append(el);
  }

  function showConfig(body) {
    const error = document.getElementById("config-error");
    const restart = document.getElementById("config-restart");
    error.hidden = !body.config_error;
    error.querySelector(".message").textContent = body.config_error ? body.config_error.message : "";
    restart.hidden = !body.config_restart_needed;
    restart.querySelector(".settings").textContent = body.config_restart_needed ? body.config_restart_needed.settings.join("、") : "";
  }

  for (const el of document.querySelectorAll("main.charts .chart")) adopt(el);

  function showClock() {
    const now = Date.now() + clockOffsetMs;
    for (const chart of charts.values()) {
      // 显示着的这张图画好的时刻（不是状态里的：状态可能已经是下一版了）
      if (chart.shown === null) {
        setText(chart, ".updated", "暂无图片");
        continue;
      }
      const renderedAt = chart.shown.renderedAt;
      const ago = Math.max(0, Math.round((now - renderedAt) / 1000));
      const at = new Date(renderedAt).toLocaleTimeString("zh-CN", { hour12: false });
      setText(chart, ".updated", `更新于 ${at}（${ago ? `${duration(ago)}前` : "刚刚"}）`);
    }
  }

  // 从 /api/charts 读取每个任务的实时状态：间隔或暂停状态变了就重新安排刷新
  async function pollStatus() {
    lastPollAt = Date.now();
    let body;
    try {
      const response = await fetch(statusUrl, { cache: "no-store", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      body = await response.json();
    } catch (error) {
      for (const chart of charts.values()) setText(chart, ".problem", "读取状态失败，稍后自动重试");
      return;
    }
    const offset = Date.parse(body.now) - Date.now();
    const shifted = Math.abs(offset - clockOffsetMs) > REPHASE_MS;
    clockOffsetMs = offset;
    showConfig(body);
    followCharts(body.charts);
    for (const status of body.charts) {
      const chart = charts.get(status.name);
      if (!chart) continue;
      const intervalMs = status.interval ? status.interval * 1000 : null;
      const changed = intervalMs !== chart.intervalMs || status.paused !== chart.paused;
      const renderedAt = status.rendered_at ? Date.parse(status.rendered_at) : null;
      // 状态里有比显示着的更新的一版（要不要立即取，在下面重新安排之后决定）
      const behind = renderedAt !== null && (chart.shown === null || renderedAt > chart.shown.renderedAt + 1);
      // 节拍取不到（定时器出了问题、时钟偏差刚知道）：落后两个间隔以上也取一次
      const lost = behind && chart.shown !== null && intervalMs && renderedAt - chart.shown.renderedAt > 2 * intervalMs;
      if (shifted) align(chart);
      chart.intervalMs = intervalMs;
      chart.paused = status.paused;
      chart.reason = status.reason;
      chart.warnings = status.data_warnings || [];
      chart.version = status.version;
      chart.renderMs = status.render_ms || 0;
      chart.statusRenderedAt = renderedAt;
      let moved = false;
      if (status.next_run && intervalMs) {
        const tickAt = Date.parse(status.next_run);
        // 节拍的相位变了（间隔改了、任务重新安排）：以前的绘制用时不再适用
        const shift = (((tickAt - (chart.tickAt ?? tickAt)) % intervalMs) + intervalMs) % intervalMs;
        moved = chart.tickAt !== null && Math.min(shift, intervalMs - shift) > 1;
        if (moved) chart.lags = [];
        // 节拍换了（间隔改了、任务恢复或重新安排、刚加上的图表）：在这次的 next_run 之前新节拍上没有运行
        if (moved || changed) {
          chart.floorAt = tickAt;
          chart.askedTick = null;
        }
        chart.tickAt = tickAt;
      }
      chart.stale = status.stale;
      chart.error = status.last_error && status.last_error.consecutive_failures > 0 ? status.last_error : null;
      if (!chart.el.classList.contains("failed")) setText(chart, ".problem", "");
      showPeriod(chart);
      if (changed) {
        // 间隔或暂停变了：还在等的上一版（304 之后的再问）作废，按新的节拍来
        clearTimeout(chart.retry);
        chart.retry = null;
        if (chart.inflight) chart.inflight.replanned = true; // 途中的请求得到 304 也不再问
        schedule(chart);
        align(chart);
      } else if (moved) {
        align(chart); // 间隔没变、节拍挪了（任务重新安排）：按新的节拍对准
      }
      // 状态里有比显示着的更新的一版，而定时器不会去取它：立即取一次（在重新安排之后判断，按新的节拍）
      const catchUp = behind && !chart.inflight && !document.hidden && (lost || !timerWillFetch(chart, renderedAt));
      if (catchUp) refresh(chart, { at: renderedAt });
    }
    showClock();
  }

  function start() {
    stop(); // 不会重复安排定时器
    for (const chart of charts.values()) {
      showPeriod(chart);
      schedule(chart);
      align(chart); // 回到前台时：按已知的节拍对准，而不是从现在起算一个间隔
      refresh(chart); // 第一张图（页面里的 <img> 还没有图片）；之后对准重绘的节拍
    }
    pollStatus();
    statusTimer = setInterval(pollStatus, STATUS_POLL_MS);
    clockTimer = setInterval(showClock, CLOCK_MS);
  }

  function stop() {
    for (const chart of charts.values()) {
      clearInterval(chart.timer);
      clearTimeout(chart.timer);
      clearTimeout(chart.retry);
      chart.timer = null;
    }
    clearInterval(statusTimer);
    clearInterval(clockTimer);
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      stop();
      return;
    }
    // 回到前台：立即刷新每张图（start 里），再恢复轮询
    start();
  });

  // 配色或屏幕宽度变了：换成对应的变体（暗色、窄版式），不等下一个节拍
  for (const query of [darkQuery, narrowQuery]) {
    query.addEventListener("change", () => {
      for (const chart of charts.values()) {
        if (chart.inflight) chart.inflight.controller.abort(); // 正在取的是旧变体
        chart.inflight = null;
        refresh(chart);
      }
    });
  }

  if (!document.hidden) start();
})();
