/** Scores and bans live with the peer session (peer/scores.ts), which the simulator runs too. */
export { DEFAULT_SCORING, SCORE_FLOOR, Scoreboard, type ScoringPolicy } from '../../peer/scores.ts';
