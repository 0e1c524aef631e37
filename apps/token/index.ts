/** A fungible token application (seed 001 "Application"): formats, predicates, client helpers. */
export * from './client.ts';
export * from './format.ts';
export * from './predicates.ts';
