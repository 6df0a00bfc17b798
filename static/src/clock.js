// The meeting's clocks (templates/meetings/_clock.html, _speakers.html, _room.html) tick on the
// page between pushes. Each clock carries the seconds the server counted when it rendered it
// (data-clock-base), so every browser shows the server's time, whatever its own clock says; it
// counts on from the moment the page received it, and every push brings it a new base.
// A clock that passes its limit (data-clock-limit) is marked over time in words (.clock-over),
// not by colour alone.
function format(seconds) {
  const sign = seconds < 0 ? "\u2212" : "";
  let rest = Math.abs(seconds);
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  const secs = String(rest - minutes * 60).padStart(2, "0");
  return hours ? `${sign}${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${sign}${minutes}:${secs}`;
}

export function runClocks(root) {
  const received = new WeakMap(); // clock element -> when this page received its base
  const tick = () => {
    const now = performance.now();
    root.querySelectorAll("[data-clock]").forEach((clock) => {
      if (!received.has(clock)) received.set(clock, now);
      const running = clock.dataset.clockRunning === "true";
      const base = Number(clock.dataset.clockBase) || 0;
      const elapsed = running ? base + Math.floor((now - received.get(clock)) / 1000) : base;
      const limit = clock.dataset.clockLimit === undefined ? null : Number(clock.dataset.clockLimit);
      const text = format(clock.dataset.clock === "down" && limit !== null ? limit - elapsed : elapsed);
      if (clock.textContent !== text) clock.textContent = text;
      const box = clock.closest("[data-clock-box]");
      if (!box || limit === null) return;
      const over = elapsed > limit;
      if (over) box.dataset.over = "true";
      else delete box.dataset.over;
      const label = box.querySelector(".clock-over");
      if (label && label.hidden === over) label.hidden = !over;
    });
  };
  for (const name of ["htmx:wsAfterMessage", "htmx:afterSwap", "htmx:oobAfterSwap"]) {
    root.addEventListener(name, tick);
  }
  tick();
  setInterval(tick, 1000);
}
