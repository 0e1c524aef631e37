/**
 * Filters: what a node wants, as data (topics and a conjunction of clauses over an intent's clear
 * attributes), so that a peer can apply it before forwarding and the receiver can tell an intent
 * it was promised never to get.
 */
import type { AttrValue, Clause, Filter, IntentBody } from './messages.ts';

/** The filter that wants nothing (a node that has not said what it wants is sent nothing). */
export const NOTHING: Filter = { topics: [], where: [] };

export const wantsTopic = (filter: Filter, topic: string): boolean => filter.topics.includes(topic);

function attribute(body: IntentBody, key: string): AttrValue | undefined {
  for (const a of body.attributes) if (a.key === key) return a.value;
  return undefined;
}

function holds(clause: Clause, body: IntentBody): boolean {
  const v = attribute(body, clause.key);
  if (v === undefined) return false;
  switch (clause.op.tag) {
    case 'eq':
      return v.tag === clause.op.value.tag && v.value === clause.op.value.value;
    case 'atLeast':
      return v.tag === 'num' && v.value >= clause.op.value;
    case 'atMost':
      return v.tag === 'num' && v.value <= clause.op.value;
  }
}

/** Whether `filter` wants an intent with this body: its topic, and every clause. */
export function matches(filter: Filter, body: IntentBody): boolean {
  if (!wantsTopic(filter, body.topic)) return false;
  for (const c of filter.where) if (!holds(c, body)) return false;
  return true;
}
