/**
 * The AuthorizationPolicy documents of Istio's ambient L4 guide, as `zt demo` applies them (the
 * integration tests apply the same text).
 */

/** L4: only sleep's identity may reach httpbin. */
export const ALLOW_SLEEP = `apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: allow-sleep-to-httpbin
  namespace: ambient-demo
spec:
  selector:
    matchLabels:
      app: httpbin
  action: ALLOW
  rules:
  - from:
    - source:
        principals:
        - cluster.local/ns/ambient-demo/sa/sleep
`;

/** The same with an HTTP method: an L7 rule never matches at L4, so the ALLOW policy now allows nothing. */
export const ALLOW_SLEEP_GET = `${ALLOW_SLEEP}    to:
    - operation:
        methods: ["GET"]
`;
