/*
 * clickpath web SDK: keeps the affiliate click on the landing site, so that the registration
 * can name it. No dependencies; served by the tracker at /sdk/clickpath.js.
 *
 *   <script src="https://track.example.com/sdk/clickpath.js"></script>
 *   clickpath.clickId()                       // the click that brought this visitor, or null
 *   clickpath.init({consent: true})           // or clickpath.consent(true) from your CMP
 *
 * Always: the click_id the tracker put in the landing URL is kept in a first-party cookie and
 * in localStorage (30 days), because the operator's contract with the affiliate needs it.
 * Only with consent (data-consent="true" on the script tag, init({consent: true}) or
 * consent(true)): a random device id is kept, and the page's context (page URL, referrer,
 * viewport size class, language, platform) is sent once per page to the collect endpoint.
 */
(function (window, document) {
  'use strict';
  var CLICK = 'cp_click';
  var DEVICE = 'cp_did';
  var DAYS = 30;
  var ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
  var script = document.currentScript;
  var state = { clickId: null, consent: false, sent: false, brand: null, endpoint: null };

  function readCookie(name) {
    var pairs = document.cookie ? document.cookie.split('; ') : [];
    for (var i = 0; i < pairs.length; i++) {
      var eq = pairs[i].indexOf('=');
      if (pairs[i].slice(0, eq) === name) {
        try { return decodeURIComponent(pairs[i].slice(eq + 1)); } catch (e) { return null; }
      }
    }
    return null;
  }

  function keep(name, value) {
    document.cookie = name + '=' + encodeURIComponent(value) + '; Max-Age=' + DAYS * 86400 +
      '; Path=/; SameSite=Lax' + (window.location.protocol === 'https:' ? '; Secure' : '');
    try { window.localStorage.setItem(name, value); } catch (e) { /* storage disabled */ }
  }

  function recall(name) {
    var value = readCookie(name);
    if (!value) {
      try { value = window.localStorage.getItem(name); } catch (e) { value = null; }
    }
    return value;
  }

  function capture() {
    var fromUrl = new URLSearchParams(window.location.search).get('click_id');
    if (fromUrl && ULID.test(fromUrl)) {
      keep(CLICK, fromUrl);  // a newer click replaces an older one: last click wins
      state.clickId = fromUrl;
      return;
    }
    var kept = recall(CLICK);
    state.clickId = kept && ULID.test(kept) ? kept : null;
  }

  function deviceId() {
    var id = recall(DEVICE);
    if (!id || !/^[A-Za-z0-9-]{8,64}$/.test(id)) {
      id = window.crypto && window.crypto.randomUUID ? window.crypto.randomUUID()
        : (Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 12));
    }
    keep(DEVICE, id);
    return id;
  }

  function viewport() {
    var width = window.innerWidth || document.documentElement.clientWidth || 0;
    return width < 768 ? 'small' : width < 1200 ? 'medium' : 'large';
  }

  function collect() {
    if (!state.consent || state.sent || !state.clickId || !state.endpoint) return false;
    state.sent = true;
    var nav = window.navigator;
    var body = {
      click_id: state.clickId,
      page_url: window.location.href,
      referrer: document.referrer || null,
      viewport: viewport(),
      language: nav.language || null,
      platform: (nav.userAgentData && nav.userAgentData.platform) || nav.platform || null,
      device_id: deviceId(),
      brand: state.brand
    };
    // text/plain needs no CORS preflight; keepalive lets it finish if the visitor moves on.
    window.fetch(state.endpoint, {
      method: 'POST', mode: 'cors', credentials: 'omit', keepalive: true,
      headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(body)
    }).catch(function () { /* measurement must never break the page */ });
    return true;
  }

  var api = {
    /** Options: consent (true only), endpoint (default: the SDK's own origin + /v1/collect),
     *  brand (only when one landing origin serves several brands). */
    init: function (options) {
      options = options || {};
      if (options.endpoint) state.endpoint = options.endpoint;
      if (options.brand) state.brand = options.brand;
      if ('consent' in options) state.consent = options.consent === true;
      capture();
      collect();
      return api;
    },
    /** Tell the SDK the visitor's consent changed (e.g. from a consent banner's callback). */
    consent: function (given) {
      state.consent = given === true;
      return collect();
    },
    /** The click that brought this visitor (ULID), to send with the registration; or null. */
    clickId: function () {
      return state.clickId;
    }
  };

  if (script && script.src) {
    state.endpoint = new URL('/v1/collect', script.src).href;
    state.brand = script.getAttribute('data-brand');
    state.consent = script.getAttribute('data-consent') === 'true';
  }
  capture();
  window.clickpath = api;
  collect();
})(window, document);
