/**
 * The header: title, mode, feed time, the playback controls (simulations and traces), the trace
 * loader, counters and a connection light per feed; and the feed's error messages.
 */
import type { ClientMessage } from '../protocol.ts';
import type { FeedConnection } from './feed.ts';
import { fmtInt, fmtTime } from './format.ts';
import type { Model } from './model.ts';
import { byId, html, setText } from './svg.ts';

export const SPEEDS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 50] as const;
const ERROR_MS = 12_000;

export class Header {
  private readonly title = byId('title', HTMLElement);
  private readonly mode = byId('mode', HTMLElement);
  private readonly controls = byId('controls', HTMLElement);
  private readonly play = byId('play', HTMLButtonElement);
  private readonly pause = byId('pause', HTMLButtonElement);
  private readonly step = byId('step', HTMLButtonElement);
  private readonly speed = byId('speed', HTMLSelectElement);
  private readonly jumpTime = byId('jump-time', HTMLInputElement);
  private readonly jump = byId('jump', HTMLButtonElement);
  private readonly traceFile = byId('trace-file', HTMLInputElement);
  private readonly time = byId('time', HTMLElement);
  private readonly stats = byId('stats', HTMLElement);
  private readonly feeds = byId('feeds', HTMLElement);
  private readonly error = byId('error', HTMLElement);
  private readonly dropped = byId('dropped', HTMLElement);
  /** the server's speed last shown, so the user's choice is not overwritten while it differs */
  private shownSpeed: number | null = null;
  private errorAt = 0;

  constructor(
    private readonly model: Model,
    private readonly send: (msg: ClientMessage, to: 'control' | 'load') => void,
  ) {
    this.speed.replaceChildren(...SPEEDS.map((s) => new Option(`${s}×`, String(s), s === 1, s === 1)));
    this.play.addEventListener('click', () =>
      this.send({ type: 'control', op: 'play', speed: this.chosenSpeed() }, 'control'),
    );
    this.pause.addEventListener('click', () => this.send({ type: 'control', op: 'pause' }, 'control'));
    this.step.addEventListener('click', () => this.send({ type: 'control', op: 'step' }, 'control'));
    this.speed.addEventListener('change', () => {
      if (this.model.mainStatus?.playing === true) {
        this.send({ type: 'control', op: 'play', speed: this.chosenSpeed() }, 'control');
      }
    });
    const jump = (): void => {
      const time = Number(this.jumpTime.value);
      if (this.jumpTime.value.trim() === '' || !Number.isFinite(time) || time < 0) {
        this.jumpTime.classList.add('invalid');
        return;
      }
      this.jumpTime.classList.remove('invalid');
      this.send({ type: 'control', op: 'jump', time }, 'control');
    };
    this.jump.addEventListener('click', jump);
    this.jumpTime.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') jump();
    });
    this.traceFile.addEventListener('change', () => {
      const file = this.traceFile.files?.[0];
      if (file === undefined) return;
      file.text().then(
        (text) => {
          this.send({ type: 'load', name: file.name, text }, 'load');
          this.traceFile.value = '';
        },
        (err: unknown) => this.showError(`cannot read ${file.name}: ${String(err)}`),
      );
    });
    this.error.addEventListener('click', () => {
      this.error.hidden = true;
    });
  }

  private chosenSpeed(): number {
    const v = Number(this.speed.value);
    return Number.isFinite(v) && v > 0 ? v : 1;
  }

  showError(message: string): void {
    this.model.error = { message, at: Date.now() };
    this.update();
  }

  update(): void {
    const m = this.model;
    const feeds = m.feeds.length;
    setText(this.title, m.title || 'Waiting for the feed…');
    this.title.title = m.title;
    setText(this.mode, m.mode === null ? '…' : feeds > 1 ? `${m.mode} · ${feeds} feeds` : m.mode);
    this.mode.className = `mode-badge mode-${m.mode ?? 'none'}`;
    this.controls.hidden = !m.controls;

    const st = m.mainStatus;
    const time = m.time;
    const end = st?.end;
    setText(
      this.time,
      time === null
        ? '–'
        : end !== undefined && m.mode === 'trace'
          ? `${fmtTime(time)} / ${fmtTime(end)}`
          : `${fmtTime(time)}`,
    );
    this.time.title = 'feed time (virtual in a simulation)';
    if (st !== null && m.controls) {
      this.play.classList.toggle('on', st.playing);
      this.pause.classList.toggle('on', !st.playing);
      if (st.speed !== this.shownSpeed) {
        this.shownSpeed = st.speed;
        const v = String(st.speed);
        if (![...this.speed.options].some((o) => o.value === v)) this.speed.add(new Option(`${v}×`, v));
        this.speed.value = v;
      }
    }
    const s = m.stats;
    setText(
      this.stats,
      `produced ${fmtInt(s.produced)} · streamed ${fmtInt(s.streamed)} · dropped ${fmtInt(s.dropped)}`,
    );
    this.stats.title =
      'inspection events produced by the feeds, sent to this page, and summarised by the budget';

    const recent = m.lastDropAt > 0 && Date.now() - m.lastDropAt < 3000;
    setText(
      this.dropped,
      m.dropped === 0
        ? 'nothing summarised'
        : `${fmtInt(m.dropped)} events summarised (budget ${fmtInt(m.budget)}/s)`,
    );
    this.dropped.setAttribute('data-dropped', String(m.dropped));
    this.dropped.className = m.dropped === 0 ? 'dropped none' : recent ? 'dropped recent' : 'dropped';
    this.dropped.title =
      m.dropped === 0
        ? 'the feed streams every event that passes the filters'
        : `over its budget the feed counts events instead of sending them; most summarised:\n${[
            ...m.droppedBy,
          ]
            .sort((a, b) => b[1] - a[1])
            .slice(0, 12)
            .map(([k, n]) => `${k}: ${fmtInt(n)}`)
            .join('\n')}`;

    const err = m.error;
    if (err !== null && Date.now() - err.at < ERROR_MS) {
      if (err.at !== this.errorAt) {
        this.errorAt = err.at;
        setText(this.error, err.message);
        this.error.hidden = false;
      }
    } else {
      this.error.hidden = true;
    }
  }

  /** The connection lights, one per feed. */
  updateFeeds(feeds: readonly FeedConnection[]): void {
    if (this.feeds.childElementCount !== feeds.length) {
      this.feeds.replaceChildren(
        ...feeds.map((f) => html('span', { class: 'feed-dot', 'data-feed': f.url })),
      );
    }
    feeds.forEach((f, i) => {
      const dot = this.feeds.children[i] as HTMLElement;
      dot.className = `feed-dot ${f.state}`;
      const since = new Date(f.since).toLocaleTimeString();
      const nodes = f.hello?.nodes.map((n) => n.node).join(', ') ?? '';
      dot.title =
        f.state === 'open'
          ? `${f.url}\nconnected since ${since}${nodes ? `\nnodes: ${nodes}` : ''}`
          : f.state === 'connecting'
            ? `${f.url}\nconnecting…`
            : `${f.url}\ndisconnected since ${since}; retrying in ${(f.retryIn / 1000).toFixed(1)} s`;
    });
  }
}
