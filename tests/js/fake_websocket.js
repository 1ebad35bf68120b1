// Installed before any page script, in place of the browser's WebSocket. Every socket
// a page opens lands in window.__sockets; push() delivers a server message, drop() a close.
(() => {
  window.__sockets = [];
  window.__scrolledIntoView = [];
  const scrollIntoView = Element.prototype.scrollIntoView;
  Element.prototype.scrollIntoView = function (...args) {
    window.__scrolledIntoView.push(this.textContent);
    return scrollIntoView.apply(this, args);
  };
  class FakeWebSocket extends EventTarget {
    constructor(url) {
      super();
      this.url = String(url);
      this.openedAt = performance.now();
      this.readyState = FakeWebSocket.CONNECTING;
      window.__sockets.push(this);
      setTimeout(() => {
        if (this.readyState !== FakeWebSocket.CONNECTING) return;
        this.readyState = FakeWebSocket.OPEN;
        this._emit(new Event("open"));
      }, 0);
    }
    send() {}
    close(code = 1000) { this.drop(code); }
    push(message) {
      const data = typeof message === "string" ? message : JSON.stringify(message);
      this._emit(new MessageEvent("message", { data }));
    }
    drop(code = 1006) {
      if (this.readyState === FakeWebSocket.CLOSED) return;
      this.readyState = FakeWebSocket.CLOSED;
      this.closedAt = performance.now();
      this._emit(new CloseEvent("close", { code, wasClean: code !== 1006 }));
    }
    _emit(event) {
      const handler = this["on" + event.type];
      if (typeof handler === "function") handler.call(this, event);
      this.dispatchEvent(event);
    }
  }
  Object.assign(FakeWebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket = FakeWebSocket;
})();
