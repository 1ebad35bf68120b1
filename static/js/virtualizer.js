// Hands the vendored @tanstack/virtual-core (an ES module) to job.js, a
// classic script: module and deferred scripts run in document order, so this
// one, placed before job.js, has run when job.js starts.
import {
  Virtualizer, elementScroll, observeElementOffset, observeElementRect,
} from "../vendor/virtual-core-3.19.11/index.js";

// The library's published build reads process.env.NODE_ENV (a bundler
// replaces it); without a bundler the browser needs it defined.
globalThis.process ??= { env: { NODE_ENV: "production" } };

window.Dockyard = window.Dockyard || {};
window.Dockyard.virtual = { Virtualizer, elementScroll, observeElementOffset, observeElementRect };
