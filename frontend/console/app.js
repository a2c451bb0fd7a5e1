// app.js — the Namaskah web console (docs/console.md).
//
// One document, pages chosen by the URL fragment (#/login, #/verifications,
// #/admin/audit ...). Everything on screen is built with DOM calls and
// textContent: the page runs under Trusted Types with no policy at all, so
// no string can ever reach an HTML or script sink, and every value that came
// from a request (paths, user agents, details) is shown as text. The access
// token lives in this closure only (never in storage): a reload logs out.
'use strict';

(function () {
  // A console in a frame could be dressed up by its parent: refuse to run
  // (frame-ancestors 'none' and X-Frame-Options already stop the browser).
  if (window.top !== window.self) {
    document.documentElement.replaceChildren();
    return;
  }

  var POLL_FIRST_MS = 1000;   // first re-read of a pending verification
  var POLL_MAX_MS = 10000;    // backoff ceiling
  var POLL_FACTOR = 1.5;
  var PAGE_SIZE = 20;
  var CHART_MINUTES = 60;     // security events chart: the last hour

  var session = { token: null, me: null, expiryTimer: null };
  var view = 0;               // bumped on every page change; stale work stops
  var main = document.getElementById('main');
  var nav = document.getElementById('nav');
  var notice = document.getElementById('notice');

  // ---- DOM helpers ---------------------------------------------------------

  // h('p', {class: 'x', onclick: f}, 'text', child...): an element. Strings
  // become text nodes; attribute values are never markup.
  function h(tag, attrs) {
    var el = document.createElement(tag);
    setAttrs(el, attrs);
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function svg(tag, attrs) {
    var el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    setAttrs(el, attrs);
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function setAttrs(el, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k.slice(0, 2) === 'on' && typeof v === 'function') {
        el.addEventListener(k.slice(2), v);
      } else {
        el.setAttribute(k, v === true ? '' : String(v));
      }
    });
  }

  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    el.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }

  function show(title) {
    var nodes = Array.prototype.slice.call(arguments, 1);
    document.title = title + ' — Namaskah console';
    main.replaceChildren(h('h1', null, title));
    append(main, nodes);
    main.focus();
  }

  function say(text, isError) {
    notice.replaceChildren();
    if (!text) return;
    notice.appendChild(h('p', { class: isError ? 'notice error' : 'notice' }, text));
  }

  function field(label, attrs) {
    return h('label', null, label, h('input', attrs));
  }

  function select(label, name, options, value) {
    return h('label', null, label, h('select', { name: name },
      options.map(function (o) {
        return h('option', { value: o[0], selected: o[0] === value }, o[1]);
      })));
  }

  function table(headers, rows) {
    return h('div', { class: 'wrap' }, h('table', null,
      h('thead', null, h('tr', null, headers.map(function (t) { return h('th', { scope: 'col' }, t); }))),
      h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: headers.length }, 'Nothing to show.')))));
  }

  function td(value, cls) { return h('td', cls ? { class: cls } : null, value === null || value === undefined ? '—' : String(value)); }

  function when(iso) {
    if (!iso) return '—';
    var d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleString();
  }

  function formValues(form) {
    var out = {};
    new FormData(form).forEach(function (v, k) { if (String(v) !== '') out[k] = String(v); });
    return out;
  }

  function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }

  // ---- the API -------------------------------------------------------------

  function ApiError(status, problem, message) {
    this.status = status; this.problem = problem; this.message = message;
  }

  // Calls the API; resolves to the parsed body. 401 ends the session (back to
  // the login page with the reason); 429 says how long to wait.
  function api(method, path, body, query) {
    var url = path;
    if (query) {
      var q = new URLSearchParams();
      Object.keys(query).forEach(function (k) { if (query[k] !== undefined && query[k] !== '') q.set(k, query[k]); });
      if (q.toString()) url += '?' + q.toString();
    }
    var headers = { Accept: 'application/json' };
    if (session.token) headers.Authorization = 'Bearer ' + session.token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return fetch(url, {
      method: method, headers: headers, credentials: 'omit', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (res.ok) return data;
        var detail = data && data.detail ? data.detail : 'The server answered ' + res.status + '.';
        var retryAfter = parseInt(res.headers.get('Retry-After') || '', 10);
        var ended = res.status === 401 && session.token !== null;
        if (ended) {
          endSession('Your session has ended (' + detail + ') Please log in again.');
        } else if (res.status === 429) {
          detail = 'Too many requests: try again in ' + (isNaN(retryAfter) ? 'a moment' : retryAfter + ' second' + (retryAfter === 1 ? '' : 's')) + '.';
        } else if (data && Array.isArray(data.errors) && data.errors.length) {
          detail += ' (' + data.errors.map(function (e) { return e.field + ': ' + e.code; }).join(', ') + ')';
        }
        var err = new ApiError(res.status, data, detail);
        err.sessionEnded = ended;  // its message is already on screen
        err.retryAfter = isNaN(retryAfter) ? null : retryAfter;
        throw err;
      });
    }, function () {
      throw new ApiError(0, null, 'The server could not be reached.');
    });
  }

  function failed(err) {
    if (err instanceof ApiError) {
      if (!err.sessionEnded) say(err.message, true);
    } else {
      say('Something went wrong in the console: ' + err, true);
    }
  }

  // ---- session -------------------------------------------------------------

  function startSession(token) {
    session.token = token.access_token;
    clearTimeout(session.expiryTimer);
    session.expiryTimer = setTimeout(function () {
      endSession('Your session expired. Please log in again.');
    }, Math.max(1, token.expires_in) * 1000);
    return api('GET', '/api/auth/me').then(function (me) { session.me = me; });
  }

  function endSession(message) {
    session.token = null; session.me = null;
    clearTimeout(session.expiryTimer);
    say(message, true);
    go('#/login');
  }

  function isAdmin() { return session.me && session.me.role === 'admin'; }

  function renderNav() {
    var links = [];
    if (session.token) {
      links.push(h('a', { href: '#/verifications' }, 'Verifications'));
      if (isAdmin()) {
        links.push(h('a', { href: '#/admin/users' }, 'Users'),
          h('a', { href: '#/admin/audit' }, 'Audit'),
          h('a', { href: '#/admin/security' }, 'Security events'),
          h('a', { href: '#/admin/rate-limits' }, 'Rate limits'));
      }
      links.push(h('a', { href: '#/api' }, 'API'),
        h('button', { class: 'link', type: 'button', id: 'logout', onclick: logout }, 'Log out'));
    } else {
      links.push(h('a', { href: '#/login' }, 'Log in'), h('a', { href: '#/register' }, 'Register'),
        h('a', { href: '#/api' }, 'API'));
    }
    nav.replaceChildren.apply(nav, links);
  }

  function logout() {
    api('POST', '/api/auth/logout').catch(function () { /* ends here anyway */ }).then(function () {
      session.token = null; session.me = null;
      clearTimeout(session.expiryTimer);
      say('You are logged out.');
      go('#/login');
    });
  }

  // ---- pages: account ------------------------------------------------------

  function pageLogin() {
    var form = h('form', { class: 'stack', id: 'login-form', novalidate: true },
      field('Email', { name: 'email', type: 'email', autocomplete: 'username', required: true, maxlength: 254 }),
      field('Password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, maxlength: 256 }),
      h('button', { type: 'submit' }, 'Log in'));
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var v = formValues(form);
      api('POST', '/api/auth/login', { email: v.email || '', password: v.password || '' })
        .then(startSession)
        .then(function () { say(''); go(isAdmin() ? '#/admin/audit' : '#/verifications'); })
        .catch(failed);
    });
    show('Log in', form, h('p', null, 'No account yet? ', h('a', { href: '#/register' }, 'Register')));
    form.querySelector('input').focus();
  }

  function pageRegister() {
    var form = h('form', { class: 'stack', id: 'register-form', novalidate: true },
      field('Email', { name: 'email', type: 'email', autocomplete: 'email', required: true, maxlength: 254 }),
      field('Password (at least 12 characters)', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 12, maxlength: 256 }),
      field('Phone (optional, E.164 such as +15550100042)', { name: 'phone', type: 'tel', autocomplete: 'tel' }),
      h('button', { type: 'submit' }, 'Create account'));
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var v = formValues(form);
      var body = { email: v.email || '', password: v.password || '' };
      if (v.phone) body.phone = v.phone;
      api('POST', '/api/auth/register', body)
        .then(function () { say('Account created: log in with it.'); go('#/login'); })
        .catch(failed);
    });
    show('Register', form);
  }

  // ---- pages: verifications --------------------------------------------------

  // Cursor paging: the stack of cursors that led to this page.
  function pager(state, reload) {
    return h('div', { class: 'pager' },
      h('button', { type: 'button', class: 'secondary', disabled: state.trail.length === 0,
        onclick: function () { state.cursor = state.trail.pop(); reload(); } }, 'Previous page'),
      h('button', { type: 'button', class: 'secondary', id: 'next-page', disabled: !state.next,
        onclick: function () { state.trail.push(state.cursor); state.cursor = state.next; reload(); } }, 'Next page'));
  }

  function pageVerifications() {
    var state = { cursor: undefined, trail: [], next: null, status: '', ticket: 0 };
    var rent = h('form', { class: 'inline', id: 'rent-form', novalidate: true },
      field('Service', { name: 'service', required: true, maxlength: 32, placeholder: 'telegram', pattern: '[a-z0-9][a-z0-9_.\\-]{0,31}' }),
      select('Country', 'country', [['US', 'United States'], ['CA', 'Canada']], 'US'),
      h('button', { type: 'submit' }, 'Rent a number'));
    rent.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var v = formValues(rent);
      api('POST', '/api/verifications', { service: v.service || '', country: v.country || 'US' })
        .then(function (ver) { say('Number ' + ver.phone_number + ' rented for ' + ver.service + '.'); go('#/verifications/' + ver.id); })
        .catch(failed);
    });
    var filter = select('Status', 'status', [['', 'any'], ['pending', 'pending'], ['completed', 'completed'],
      ['cancelled', 'cancelled'], ['expired', 'expired']], '');
    filter.querySelector('select').addEventListener('change', function (ev) {
      state.status = ev.target.value; state.cursor = undefined; state.trail = []; load();
    });
    var list = h('div', { id: 'verification-list' });
    var mine = view;
    function load() {
      var ticket = ++state.ticket;
      api('GET', '/api/verifications', undefined, { limit: PAGE_SIZE, cursor: state.cursor, status: state.status })
        .then(function (page) {
          if (mine !== view || ticket !== state.ticket) return;
          state.next = page.next_cursor;
          list.replaceChildren(table(['Service', 'Number', 'Status', 'Expires', 'Created'],
            page.items.map(function (v) {
              return h('tr', null,
                h('td', null, h('a', { href: '#/verifications/' + encodeURIComponent(v.id) }, v.service)),
                td(v.phone_number), td(v.status, 'status'), td(when(v.expires_at)), td(when(v.created_at)));
            })), pager(state, load));
        }).catch(failed);
    }
    show('Verifications', h('h2', null, 'Rent a number'), rent, h('h2', null, 'Your verifications'), filter, list);
    load();
  }

  function pageVerification(id) {
    var mine = view, delay = POLL_FIRST_MS, timer = null;
    var box = h('div', { id: 'verification' }, h('p', { class: 'muted' }, 'Loading…'));
    show('Verification', box, h('p', null, h('a', { href: '#/verifications' }, 'Back to the list')));
    function render(v) {
      var rows = [['Service', v.service], ['Country', v.country], ['Number', v.phone_number], ['Provider', v.provider],
        ['Status', v.status], ['Created', when(v.created_at)], ['Expires', when(v.expires_at)],
        ['Completed', when(v.completed_at)], ['Cancelled', when(v.cancelled_at)]];
      var parts = [h('dl', { class: 'facts' }, rows.map(function (r) {
        return [h('dt', null, r[0]), h('dd', { 'data-field': r[0].toLowerCase() }, r[1] === null ? '—' : r[1])];
      }))];
      if (v.code) {
        parts.unshift(h('p', null, 'Code: ', h('span', { class: 'code', id: 'code' }, v.code)));
      } else if (v.status === 'pending') {
        parts.unshift(h('p', { class: 'muted', id: 'waiting' }, 'Waiting for the SMS… this page checks again by itself.'));
        parts.push(h('button', { type: 'button', class: 'danger', id: 'cancel', onclick: function () {
          api('POST', '/api/verifications/' + encodeURIComponent(id) + '/cancel')
            .then(function (c) { say('The verification is cancelled.'); clearTimeout(timer); render(c); })
            .catch(failed);
        } }, 'Cancel this verification'));
      }
      box.replaceChildren.apply(box, parts);
    }
    function poll() {
      api('GET', '/api/verifications/' + encodeURIComponent(id)).then(function (v) {
        if (mine !== view) return;
        render(v);
        if (v.status === 'pending') again(delay);
      }).catch(function (err) {
        failed(err);
        // rate limited (or the server briefly busy): keep waiting, as told
        if (mine === view && err instanceof ApiError && err.retryAfter !== null && (err.status === 429 || err.status === 503)) {
          again(Math.max(delay, err.retryAfter * 1000));
        }
      });
    }
    function again(ms) {
      timer = setTimeout(function () { if (mine === view) poll(); }, ms);
      delay = Math.min(POLL_MAX_MS, delay * POLL_FACTOR);
    }
    poll();
  }

  // ---- pages: administration -------------------------------------------------

  function pageUsers() {
    var state = { cursor: undefined, trail: [], next: null, ticket: 0 };
    var list = h('div', { id: 'user-list' });
    var mine = view;
    function act(u, what) {
      api('POST', '/api/admin/users/' + encodeURIComponent(u.id) + '/' + what)
        .then(function () { say('Account ' + u.email + (what === 'lock' ? ' locked.' : ' unlocked.')); load(); })
        .catch(failed);
    }
    function load() {
      var ticket = ++state.ticket;
      api('GET', '/api/admin/users', undefined, { limit: PAGE_SIZE, cursor: state.cursor }).then(function (page) {
        if (mine !== view || ticket !== state.ticket) return;
        state.next = page.next_cursor;
        list.replaceChildren(table(['Email (masked)', 'Phone (masked)', 'Role', 'Locked', 'Failed logins', 'Created', 'Action'],
          page.items.map(function (u) {
            return h('tr', { 'data-id': u.id }, td(u.email, 'text'), td(u.phone, 'text'), td(u.role),
              td(u.locked ? 'until ' + (u.locked_until === 'infinity' ? 'unlocked' : when(u.locked_until)) : 'no'),
              td(u.failed_logins), td(when(u.created_at)),
              h('td', null, h('button', { type: 'button', class: u.locked ? 'secondary' : 'danger',
                'aria-label': (u.locked ? 'Unlock ' : 'Lock ') + u.email,
                onclick: function () { act(u, u.locked ? 'unlock' : 'lock'); } }, u.locked ? 'Unlock' : 'Lock')));
          })), pager(state, load));
      }).catch(failed);
    }
    show('Users', list);
    load();
  }

  // An audit record's details, one "key: value" line each; strings as they
  // are (text, never markup), anything else as JSON.
  function detailLines(details) {
    return Object.keys(details || {}).map(function (k) {
      var v = details[k];
      return k + ': ' + (typeof v === 'string' ? v : JSON.stringify(v));
    }).join('\n');
  }

  function pageAudit() {
    var state = { cursor: undefined, trail: [], next: null, filters: {}, ticket: 0 };
    var filters = h('form', { class: 'inline', id: 'audit-filters', novalidate: true },
      field('From (ISO 8601)', { name: 'from', maxlength: 40, placeholder: '2026-01-01T00:00Z' }),
      field('To', { name: 'to', maxlength: 40 }),
      field('Actor', { name: 'actor', maxlength: 128, placeholder: 'user:… or client:…' }),
      field('Route', { name: 'route', maxlength: 256, placeholder: '/api/auth/login' }),
      field('Status', { name: 'status', type: 'number', min: 100, max: 599 }),
      h('button', { type: 'submit' }, 'Filter'));
    filters.addEventListener('submit', function (ev) {
      ev.preventDefault();
      state.filters = formValues(filters); state.cursor = undefined; state.trail = []; load();
    });
    var verify = h('form', { class: 'inline', id: 'audit-verify', novalidate: true },
      field('From id', { name: 'from_id', type: 'number', min: 1 }),
      field('To id', { name: 'to_id', type: 'number', min: 1 }),
      h('button', { type: 'submit' }, 'Verify the chain'));
    var verdict = h('p', { id: 'verify-result', role: 'status' });
    verify.addEventListener('submit', function (ev) {
      ev.preventDefault();
      api('GET', '/api/admin/audit/verify', undefined, formValues(verify)).then(function (r) {
        verdict.replaceChildren(r.ok
          ? h('span', { class: 'ok' }, 'Chain intact: ' + r.checked + ' records checked.')
          : h('span', { class: 'bad' }, 'Chain broken: first bad record ' + r.first_bad_id + ' (' + r.checked + ' checked).'));
      }).catch(failed);
    });
    var list = h('div', { id: 'audit-list' });
    var mine = view;
    function load() {
      var q = Object.assign({ limit: PAGE_SIZE, cursor: state.cursor }, state.filters);
      var ticket = ++state.ticket;  // an older answer never replaces a newer one
      api('GET', '/api/admin/audit', undefined, q).then(function (page) {
        if (mine !== view || ticket !== state.ticket) return;
        state.next = page.next_cursor;
        list.replaceChildren(table(['Id', 'Time', 'Actor', 'Method', 'Route', 'Status', 'Outcome', 'ms', 'Details'],
          page.items.map(function (a) {
            return h('tr', null, td(a.id), td(when(a.logged_at)), td(a.actor, 'text'), td(a.method, 'text'),
              td(a.route, 'text'), td(a.status), td(a.outcome, 'text'), td(a.duration_ms),
              h('td', null, h('pre', null, detailLines(a.details))));
          })), pager(state, load));
      }).catch(failed);
    }
    show('Audit trail', filters, list, h('h2', null, 'Chain verification'),
      h('p', { class: 'muted' }, 'Leave both ids empty to check the whole log and its seals.'), verify, verdict);
    load();
  }

  // Events over the threshold per minute, as SVG bars (no chart library).
  function chart(events, from) {
    var W = 600, H = 200, PAD = 30, buckets = [], max = 1;
    for (var i = 0; i < CHART_MINUTES; i++) buckets.push(0);
    events.forEach(function (e) {
      var k = Math.floor((new Date(e.minute) - from) / 60000);
      if (k >= 0 && k < CHART_MINUTES) buckets[k] += e.count;
    });
    buckets.forEach(function (b) { max = Math.max(max, b); });
    var bw = (W - 2 * PAD) / CHART_MINUTES;
    var total = buckets.reduce(function (a, b) { return a + b; }, 0);
    return svg('svg', { class: 'chart', id: 'security-chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img',
      'aria-label': total + ' security events over the threshold in the last ' + CHART_MINUTES + ' minutes' },
      svg('line', { class: 'axis', x1: PAD, y1: H - PAD, x2: W - PAD, y2: H - PAD }),
      svg('line', { class: 'axis', x1: PAD, y1: PAD, x2: PAD, y2: H - PAD }),
      svg('text', { x: 2, y: PAD + 4 }, String(max)),
      svg('text', { x: 2, y: H - PAD }, '0'),
      svg('text', { x: PAD, y: H - 8 }, '-' + CHART_MINUTES + ' min'),
      svg('text', { x: W - PAD - 20, y: H - 8 }, 'now'),
      buckets.map(function (b, k) {
        var bh = (H - 2 * PAD) * b / max;
        return b ? svg('rect', { class: 'bar', x: PAD + k * bw + 1, y: H - PAD - bh, width: Math.max(1, bw - 2), height: bh },
          svg('title', null, b + ' at ' + new Date(from.getTime() + k * 60000).toLocaleTimeString())) : null;
      }));
  }

  function pageSecurity() {
    var mine = view, box = h('div', { id: 'security' });
    var from = new Date(Math.floor(Date.now() / 60000) * 60000 - (CHART_MINUTES - 1) * 60000);
    show('Security events', box);
    api('GET', '/api/admin/security-events', undefined, { from: from.toISOString() }).then(function (r) {
      if (mine !== view) return;
      box.replaceChildren(
        h('p', null, 'Actors over ' + r.threshold_per_minute + ' events a minute, per minute of the last hour:'),
        chart(r.events, from),
        h('h2', null, 'Totals by type and reason'),
        table(['Type', 'Reason', 'Total'], r.totals.map(function (t) {
          return h('tr', null, td(t.type, 'text'), td(t.reason, 'text'), td(t.total));
        })),
        h('h2', null, 'Over the threshold'),
        table(['Minute', 'Type', 'Actor', 'Count', 'Reasons'], r.events.map(function (e) {
          return h('tr', null, td(when(e.minute)), td(e.type, 'text'), td(e.actor, 'text'), td(e.count),
            h('td', null, h('pre', null, JSON.stringify(e.reasons))));
        })));
    }).catch(failed);
  }

  function pageRateLimits() {
    var mine = view, box = h('div', { id: 'rate-limits' });
    show('Rate-limit keys', h('p', { class: 'muted' }, 'The most recently active keys, pseudonymised.'), box);
    api('GET', '/api/admin/rate-limits', undefined, { limit: 50 }).then(function (r) {
      if (mine !== view) return;
      box.replaceChildren(table(['Policy', 'Key (pseudonym)', 'Limit', 'Remaining', 'Resets in (s)', 'Expires'],
        r.items.map(function (k) {
          return h('tr', null, td(k.policy, 'text'), td(k.key, 'text'), td(k.limit), td(k.remaining),
            td(k.reset_after), td(when(k.expires_at)));
        })));
    }).catch(failed);
  }

  // ---- page: API reference ---------------------------------------------------

  function pageReference() {
    var mine = view, box = h('div', { id: 'reference' }, h('p', { class: 'muted' }, 'Loading…'));
    show('API reference', box);
    api('GET', '/api/openapi.json').then(function (doc) {
      if (mine !== view) return;
      var ops = [];
      Object.keys(doc.paths || {}).forEach(function (path) {
        Object.keys(doc.paths[path]).forEach(function (method) {
          var op = doc.paths[path][method];
          if (typeof op !== 'object' || !op.responses) return;
          ops.push(h('section', { class: 'op' },
            h('h3', null, method.toUpperCase() + ' ' + path),
            h('p', null, op.summary || ''),
            op.description ? h('p', { class: 'text' }, op.description) : null,
            (op.parameters || []).length ? h('p', { class: 'muted' }, 'Parameters: ' + op.parameters.map(function (p) {
              return p.name ? p.name + ' (' + p.in + ')' : (p.$ref || '').split('/').pop();
            }).join(', ')) : null,
            h('p', { class: 'muted' }, 'Responses: ' + Object.keys(op.responses).join(', ') +
              (op.security && op.security.length === 0 ? ' · no token needed' : ''))));
        });
      });
      var info = doc.info || {};
      box.replaceChildren(h('p', null, (info.title || '') + ' ' + (info.version || '')),
        h('pre', null, info.description || ''), h('div', null, ops));
    }).catch(failed);
  }

  // ---- router ----------------------------------------------------------------

  function route() {
    view++;
    var hash = location.hash || '#/';
    if (hash.slice(0, 2) !== '#/') return;  // an in-page anchor
    var parts = hash.slice(2).split('/');
    renderNav();
    var publicPages = { login: pageLogin, register: pageRegister, api: pageReference };
    if (publicPages[parts[0]]) return publicPages[parts[0]]();
    if (!session.token) return pageLogin();
    if (parts[0] === 'verifications' && parts[1]) return pageVerification(decodeURIComponent(parts[1]));
    if (parts[0] === 'verifications' || parts[0] === '') return pageVerifications();
    if (parts[0] === 'admin' && !isAdmin()) { say('That page is for administrators.', true); return pageVerifications(); }
    var admin = { users: pageUsers, audit: pageAudit, security: pageSecurity, 'rate-limits': pageRateLimits };
    if (parts[0] === 'admin' && admin[parts[1]]) return admin[parts[1]]();
    show('Not found', h('p', null, 'No page here. ', h('a', { href: '#/verifications' }, 'Go to your verifications')));
  }

  window.addEventListener('hashchange', route);
  route();
})();
