// ioaccess service worker: the attempt page a clinician is on, and its scripts and styles,
// can be reloaded while the network is down, so the taps kept on the tablet (taps.js) go on.
//
// Network first, always: a page is taken from the cache only when the network fails. Only
// attempt pages are kept, the last few, and the page scripts delete them on logout and when
// the tablet locks or changes hands (taps.js), so no patient's page outlives the session.
"use strict";

var PAGES = "ioaccess-pages";
var ASSETS = "ioaccess-assets";
// The last three attempt pages, each with the cards drawn ahead that it loads.
var KEEP_PAGES = 6;
var ATTEMPT_PAGE = /^\/bay\/attempts\/[0-9a-f-]+\/$/;
var CARDS_AHEAD = /^\/bay\/attempts\/[0-9a-f-]+\/offline-cards\/$/;

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

function remember(cacheName, request, response, limit) {
  return caches.open(cacheName).then(function (cache) {
    return cache.put(request, response).then(function () {
      if (!limit) {
        return;
      }
      return cache.keys().then(function (keys) {
        var extra = keys.length - limit;
        return Promise.all(keys.slice(0, Math.max(0, extra)).map(function (key) {
          return cache.delete(key);
        }));
      });
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") {
    return;
  }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  var isPage = (request.mode === "navigate" && ATTEMPT_PAGE.test(url.pathname)) ||
    CARDS_AHEAD.test(url.pathname);
  var isAsset = url.pathname.indexOf("/static/") === 0;
  if (!isPage && !isAsset) {
    return;
  }
  event.respondWith(
    fetch(request).then(function (response) {
      // A page that answered with itself (not a redirect to sign in) is worth keeping.
      if (response.ok && !response.redirected) {
        var copy = response.clone();
        event.waitUntil(
          isPage
            ? remember(PAGES, url.pathname, copy, KEEP_PAGES)
            : remember(ASSETS, request, copy, 0)
        );
      }
      return response;
    }, function (error) {
      return caches.match(isPage ? url.pathname : request).then(function (kept) {
        if (kept) {
          return kept;
        }
        throw error;
      });
    })
  );
});
