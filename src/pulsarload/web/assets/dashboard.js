// The browser dashboard: reads the snapshot stream, draws with uPlot, posts controls.
// The token (when one is asked for) lives in this tab's sessionStorage and travels only in the
// Authorization header, never in a URL.
(() => {
  'use strict';
  const TOKEN_KEY = 'pulsarload-web-token';
  const $ = (id) => document.getElementById(id);
  const page = {
    meta: null,
    frames: 0,
    historyRows: 0,
    lastFrame: null,
    lastElapsed: -1,
    charts: {},
    data: null, // columns: t, rate, target, p50, p90, p99, p99_9, max, cpu, rss
    maxRows: 9000,
  };
  window.pulsarloadPage = page; // for tests and the curious: no secrets in here

  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let tokenWaiters = [];

  function headers(extra) {
    const h = Object.assign({}, extra || {});
    if (token) h['Authorization'] = 'Bearer ' + token;
    return h;
  }

  function say(text, level) {
    const m = $('message');
    m.textContent = text;
    m.className = level || 'muted';
  }

  function askToken(why) {
    $('auth').hidden = false;
    $('auth-why').textContent = why || '';
  }

  $('token-use').addEventListener('click', () => {
    token = $('token-input').value.trim();
    $('token-input').value = '';
    if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
    $('auth').hidden = true;
    const waiters = tokenWaiters; tokenWaiters = [];
    waiters.forEach((w) => w());
  });

  const waitForToken = () => new Promise((resolve) => tokenWaiters.push(resolve));
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // -- formatting --------------------------------------------------------------------------------
  const num = (v, d = 0) => (v === null || v === undefined ? '–' :
    Number(v).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
  const ms = (us) => (us === null || us === undefined ? '–' : (us / 1000).toFixed(us < 100000 ? 2 : 0));
  const mb = (b) => (b / 1e6).toFixed(0);
  // " · redelivered N (nack 3, reconnect 2)": the reasons that occurred, or "reasons n/a"
  // where the engine's client does not say why (byReason null).
  const redeliveries = (t, byReason) => {
    if (!t.redelivered && !(byReason && Object.values(byReason).some((n) => n))) return '';
    const why = byReason === null
      ? 'reasons n/a'
      : Object.entries(byReason).filter(([, n]) => n).map(([r, n]) => `${r.replace('_', ' ')} ${num(n)}`).join(', ');
    return ` · redelivered ${num(t.redelivered)}` + (why ? ` (${why})` : '');
  };
  const si = (v) => (v == null ? '' : Math.abs(v) >= 1e6 ? `${+(v / 1e6).toFixed(2)}M` : Math.abs(v) >= 1e3 ? `${+(v / 1e3).toFixed(1)}k` : `${+v.toFixed(1)}`);

  // -- charts ------------------------------------------------------------------------------------
  const axis = { stroke: '#8b98a5', grid: { stroke: '#2a3440', width: 1 }, ticks: { stroke: '#2a3440', width: 1 } };

  function chartSize(el) {
    return { width: Math.max(300, el.clientWidth - 4), height: 240 };
  }

  function makeCharts() {
    const meta = page.meta;
    const rateEl = $('chart-rate');
    const rateSeries = [{}, { label: 'msg/s (1 s)', stroke: '#4fb3ff', width: 1.5 }];
    if (meta.role === 'producer') rateSeries.push({ label: 'target', stroke: '#ffc857', width: 1, dash: [6, 4] });
    page.charts.rate = new uPlot({
      ...chartSize(rateEl), series: rateSeries, scales: { x: { time: true } },
      axes: [axis, { ...axis, size: 60, values: (u, vals) => vals.map(si) }], legend: { live: false },
    }, rateData(), rateEl);

    const latEl = $('chart-latency');
    const pct = [['p50', '#5fd38d'], ['p90', '#4fb3ff'], ['p99', '#ffc857'], ['p99.9', '#ff8c42'], ['max', '#ff6b6b']];
    page.charts.latency = new uPlot({
      ...chartSize(latEl),
      series: [{}, ...pct.map(([label, stroke]) => ({ label, stroke, width: 1, value: (u, v) => (v == null ? '–' : v.toFixed(2)) }))],
      scales: { x: { time: true }, y: { distr: 3 } },
      axes: [axis, { ...axis, size: 60 }], legend: { live: false },
    }, latencyData(), latEl);

    const histEl = $('chart-hist');
    page.charts.hist = new uPlot({
      ...chartSize(histEl),
      series: [{ label: 'up to' }, { label: 'count', stroke: '#4fb3ff', fill: 'rgba(79,179,255,0.4)', paths: uPlot.paths.bars({ size: [0.8, 60] }), points: { show: false } }],
      scales: { x: { time: false } },
      axes: [{ ...axis, values: (u, vals) => vals.map(histLabel) }, { ...axis, size: 60, values: (u, vals) => vals.map(si) }],
      legend: { live: false },
    }, [[], []], histEl);

    const resEl = $('chart-res');
    page.charts.res = new uPlot({
      ...chartSize(resEl),
      series: [{}, { label: 'CPU %', stroke: '#ff8c42', width: 1, scale: '%' }, { label: 'RSS MB', stroke: '#b388ff', width: 1, scale: 'mb' }],
      scales: { x: { time: true } },
      axes: [axis, { ...axis, scale: '%', size: 50 }, { ...axis, scale: 'mb', side: 1, size: 60, grid: { show: false } }],
      legend: { live: false },
    }, resData(), resEl);

    window.addEventListener('resize', () => {
      for (const [name, el] of [['rate', rateEl], ['latency', latEl], ['hist', histEl], ['res', resEl]]) {
        page.charts[name].setSize(chartSize(el));
      }
    });
  }

  function histLabel(i) {
    const edges = page.histEdges || [];
    if (!Number.isInteger(i) || i < 0 || i > edges.length) return '';
    if (i === edges.length) return '>' + ms(edges[edges.length - 1]);
    return '≤' + ms(edges[i]);
  }

  const col = (name) => page.data[name];
  const toMs = (arr) => arr.map((v) => (v == null ? null : v / 1000));
  function rateData() {
    const d = [col('t'), col('rate')];
    if (page.meta.role === 'producer') d.push(col('target'));
    return d;
  }
  function latencyData() {
    return [col('t'), toMs(col('p50')), toMs(col('p90')), toMs(col('p99')), toMs(col('p99_9')), toMs(col('max'))];
  }
  function resData() {
    return [col('t'), col('cpu'), col('rss').map((v) => (v == null ? null : v / 1e6))];
  }

  function emptyData(columns) {
    const d = {};
    for (const c of columns) d[c] = [];
    return d;
  }

  function onHistory(h) {
    page.columns = h.columns;
    page.histEdges = h.hist_edges_us;
    page.data = emptyData(h.columns);
    for (const c of h.columns) page.data[c] = h.data[c].slice();
    page.historyRows = page.data.t.length;
    // The latest frame follows the history, and its row is the history's last one already.
    page.skipRow = page.historyRows > 0;
    if (!page.charts.rate) makeCharts();
    redraw();
  }

  function rowOf(f) {
    const lat = f.latency_now;
    const orNull = (v) => (v ? v : null);
    return {
      t: f.t, rate: f.rate, target: f.target, p50: orNull(lat.p50), p90: orNull(lat.p90),
      p99: orNull(lat.p99), p99_9: orNull(lat.p99_9), max: orNull(lat.max),
      cpu: f.resources.cpu, rss: f.resources.rss,
    };
  }

  function onFrame(f) {
    if (!page.data) return;
    if (f.elapsed < page.lastElapsed) page.data = emptyData(page.columns); // metrics were reset
    page.lastElapsed = f.elapsed;
    if (page.skipRow) {
      page.skipRow = false;
    } else {
      const row = rowOf(f);
      for (const c of page.columns) {
        const arr = page.data[c];
        arr.push(row[c]);
        if (arr.length > page.maxRows) arr.splice(0, arr.length - page.maxRows);
      }
    }
    page.frames += 1;
    page.lastFrame = f;
    showFigures(f);
    redraw();
  }

  let drawPending = false;
  function redraw() {
    if (drawPending || !page.charts.rate) return;
    drawPending = true;
    requestAnimationFrame(() => {
      drawPending = false;
      page.charts.rate.setData(rateData());
      page.charts.latency.setData(latencyData());
      page.charts.res.setData(resData());
      const f = page.lastFrame;
      if (f && f.histogram.length) {
        let lo = f.histogram.findIndex((c) => c > 0);
        let hi = f.histogram.length - 1 - [...f.histogram].reverse().findIndex((c) => c > 0);
        if (lo < 0) { lo = 0; hi = 0; }
        const xs = []; const ys = [];
        for (let i = Math.max(0, lo - 1); i <= Math.min(f.histogram.length - 1, hi + 1); i++) { xs.push(i); ys.push(f.histogram[i]); }
        page.charts.hist.setData([xs, ys]);
      }
    });
  }

  function setRows(tbody, rows) {
    const body = $(tbody).querySelector('tbody');
    body.replaceChildren(...rows.map((cells) => {
      const tr = document.createElement('tr');
      for (const c of cells) { const td = document.createElement('td'); td.textContent = c; tr.appendChild(td); }
      return tr;
    }));
  }

  function showFigures(f) {
    const meta = page.meta;
    $('state').textContent = f.busy ? f.busy : f.state;
    $('state').className = 'badge ' + (f.state === 'running' ? 'ok' : f.state === 'paused' ? 'warn' : '');
    $('elapsed').textContent = f.elapsed.toFixed(1) + ' s';
    $('threads').textContent = f.threads;
    const gil = f.resources.gil_enabled;
    $('gil').textContent = gil ? 'GIL on' : 'GIL off';
    $('gil').className = 'badge ' + (gil ? 'bad' : 'ok');
    $('pause').textContent = f.state === 'paused' ? 'Resume' : 'Pause';
    $('f-rate').textContent = num(f.rate);
    $('f-target').textContent = f.target ? num(f.target) : 'max';
    $('f-avg').textContent = num(f.avg_rate);
    $('f-mb').textContent = num(f.mb_rate, 2);
    const r = f.latency_run;
    $('f-lat').textContent = `${ms(r.p50)} / ${ms(r.p99)} / ${ms(r.p99_9)}`;
    const t = f.total;
    $('f-totals').textContent = meta.role === 'producer'
      ? `sent ${num(t.sent)} · acked ${num(t.acked)} · failed ${num(t.failed)}`
      : `received ${num(t.received)} · acked ${num(t.consumer_acked)} · nacked ${num(t.nacked)} · failed ${num(t.failed)}` + redeliveries(t, f.redelivered_by_reason);
    const res = f.resources;
    $('f-res').textContent = `CPU ${num(res.cpu, 1)} % · RSS ${mb(res.rss)} MB · ${res.threads} threads · net in ${num(res.net_in / 1e6, 2)} / out ${num(res.net_out / 1e6, 2)} MB/s`;
    // The rate field follows the target when it changes (here or elsewhere), never while typed in.
    if (f.base_rate !== null && f.base_rate !== page.shownBase && document.activeElement !== $('rate-input')) {
      $('rate-input').value = f.base_rate;
      page.shownBase = f.base_rate;
    }
    if (f.ack && document.activeElement !== $('ack-select')) $('ack-select').value = f.ack;
    setRows('workers', f.workers.map((w) => [w.name, w.state, num(w.rate), ms(w.p99), w.cpu === null ? '–' : num(w.cpu, 1), num(w.queue), num(w.errors), w.last_error || '']));
    const shards = f.shards || [];
    $('shards-box').hidden = !shards.length;
    if (shards.length) {
      const live = shards.filter((s) => s.state !== 'lost').length;
      $('shards-state').textContent = `(${live} of ${shards.length} live)`;
      setRows('shards', shards.map((s) => [
        's' + s.shard, s.address, s.state, num(s.threads), num(s.rate), ms(s.p99), num(s.done),
        num(s.errors), num(s.cpu, 1), s.gil_enabled ? 'on' : 'off', num(s.clock_offset_ms, 2), s.note || '',
      ]));
    }
    const errs = Object.entries(f.errors).sort((a, b) => b[1] - a[1]);
    setRows('errors', errs.length ? errs.map(([k, v]) => [k, num(v)]) : [['none', '0']]);
    if (f.backlog) {
      $('backlog-state').textContent = f.backlog.state === 'ok' ? '' : `(${f.backlog.state}${f.backlog.error ? ': ' + f.backlog.error : ''})`;
      setRows('backlog', f.backlog.rows.map((b) => [b.partition, b.subscription, num(b.backlog), b.consumers, num(b.rate_out, 1)]));
    }
  }

  // -- the stream (fetch, so the token can travel in a header) -------------------------------------
  function handleBlock(block) {
    let event = 'message'; let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (!data) return;
    const body = JSON.parse(data);
    if (event === 'history') onHistory(body);
    else if (event === 'frame') onFrame(body);
  }

  function setConn(text, level) {
    $('conn').textContent = text;
    $('conn').className = 'badge ' + (level || '');
  }

  async function loadMeta() {
    for (;;) {
      try {
        const r = await fetch('/api/meta', { headers: headers(), cache: 'no-store' });
        if (r.status === 401 || r.status === 403) {
          const why = (await r.json()).error;
          setConn('token needed', 'warn');
          askToken(why);
          await waitForToken();
          continue;
        }
        if (r.ok) return await r.json();
        setConn(`error ${r.status}`, 'bad');
      } catch (e) {
        setConn('unreachable', 'bad');
      }
      await sleep(2000);
    }
  }

  async function stream() {
    for (;;) {
      try {
        const r = await fetch('/api/stream', { headers: headers(), cache: 'no-store' });
        if (r.status === 401 || r.status === 403) {
          setConn('token needed', 'warn');
          askToken((await r.json()).error);
          await waitForToken();
          continue;
        }
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        setConn('live', 'ok');
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            if (!block.startsWith(':')) handleBlock(block);
          }
        }
        setConn('ended', 'warn');
      } catch (e) {
        setConn('disconnected', 'bad');
      }
      await sleep(2000);
    }
  }

  // -- controls ----------------------------------------------------------------------------------
  async function post(path, body) {
    if (page.meta && page.meta.control_needs_token && !token) {
      askToken('the controls need the token');
      say('enter the token to use the controls', 'bad');
      return null;
    }
    try {
      const r = await fetch(path, {
        method: 'POST', headers: headers({ 'Content-Type': 'application/json' }),
        body: JSON.stringify(body), cache: 'no-store',
      });
      if (r.status === 401 || r.status === 403) askToken((await r.clone().json()).error);
      return r;
    } catch (e) {
      say(`request failed: ${e}`, 'bad');
      return null;
    }
  }

  async function command(body) {
    const r = await post('/api/command', body);
    if (!r) return;
    const answer = await r.json();
    if (r.ok) say(answer.message, 'ok'); else say(`refused (${r.status}): ${answer.error}`, 'bad');
  }

  async function download(what) {
    const r = await post(`/api/export/${what}`, {});
    if (!r) return;
    if (!r.ok) { say(`export refused (${r.status}): ${(await r.json()).error}`, 'bad'); return; }
    const name = (/filename="([^"]+)"/.exec(r.headers.get('content-disposition') || '') || [])[1] || `pulsarload.${what}`;
    const url = URL.createObjectURL(await r.blob());
    const a = document.createElement('a');
    a.href = url; a.download = name; document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    say(`exported ${name}`, 'ok');
  }

  function wireControls() {
    const meta = page.meta;
    $('rate-set').addEventListener('click', () => {
      const rate = Number($('rate-input').value);
      command({ kind: 'set_rate', rate });
    });
    for (const b of document.querySelectorAll('.rate-step')) {
      b.addEventListener('click', () => {
        const f = page.lastFrame;
        const base = f && f.base_rate !== null ? f.base_rate : 0;
        const step = meta[`rate_step_${b.dataset.step}`];
        const sign = Number(b.dataset.sign);
        if (sign < 0 && base <= 0) { say("the rate is 'as fast as possible'; + sets a target first", 'bad'); return; }
        command({ kind: 'set_rate', rate: Math.max(0, base + sign * step) });
      });
    }
    $('burst').addEventListener('click', () => {
      // As the b key: a second press while bursting ends the burst early.
      const bursting = page.lastFrame && page.lastFrame.state === 'burst';
      command(bursting ? { kind: 'end_burst' } : { kind: 'burst', multiplier: meta.burst_multiplier, seconds: meta.burst_seconds });
    });
    if (meta.role === 'producer') $('burst').textContent = `Burst ×${meta.burst_multiplier} for ${meta.burst_seconds} s`;
    $('thread-add').addEventListener('click', () => command({ kind: 'add_worker', count: 1 }));
    $('thread-remove').addEventListener('click', () => command({ kind: 'remove_worker', count: 1 }));
    $('pause').addEventListener('click', () => {
      const paused = page.lastFrame && page.lastFrame.state === 'paused';
      command({ kind: paused ? 'resume' : 'pause' });
    });
    $('reset').addEventListener('click', () => command({ kind: 'reset_metrics' }));
    $('export-json').addEventListener('click', () => download('json'));
    $('export-csv').addEventListener('click', () => download('csv'));
    if (meta.role === 'consumer') {
      $('ack-select').replaceChildren(...meta.ack_strategies.map((a) => { const o = document.createElement('option'); o.value = a; o.textContent = a; return o; }));
      $('ack-select').value = meta.ack;
      $('ack-apply').addEventListener('click', async () => {
        say('changing the ack strategy (restarts the consumers)…');
        const r = await post('/api/ack', { ack: $('ack-select').value });
        if (!r) return;
        const answer = await r.json();
        if (r.ok) say(answer.message, 'ok'); else say(`refused (${r.status}): ${answer.error}`, 'bad');
      });
      $('seek-go').addEventListener('click', () => command({ kind: 'seek', target: $('seek-input').value.trim() }));
    }
  }

  async function main() {
    page.meta = await loadMeta();
    const meta = page.meta;
    page.maxRows = Math.round(meta.history_s * 10) + 10;
    document.body.classList.add(meta.role);
    $('role').textContent = meta.role;
    $('topic').textContent = meta.topic;
    $('engine').textContent = `engine ${meta.engine}`;
    for (const el of document.querySelectorAll('.lat-kind')) el.textContent = meta.latency;
    document.querySelector('.queue-head').textContent = meta.role === 'producer' ? 'pending' : 'queue';
    if (meta.control_needs_token && !token) askToken('the controls need the token');
    wireControls();
    stream();
  }

  main();
})();
