export {
  RpcClient,
  type RpcClientOptions,
  type RpcSubscription,
  RpcTransportError,
  type SubscribeOptions,
} from './client.ts';
export { ERR, type ErrorCode, invalidParams, RpcError } from './errors.ts';
export { bytesToHex, type Json, stringifyStrict, toJsonSafe } from './json.ts';
export { type ParamsValidator, p, type Shape, U64_MAX, type Validator } from './params.ts';
export {
  method,
  type RpcLog,
  type RpcLogLevel,
  type RpcMethod,
  type RpcMethods,
  type RpcRoute,
  RpcServer,
  type RpcServerOptions,
  type RpcStats,
  WS_CLOSE_LAGGED,
} from './server.ts';
