-- 002_result_detail: kind-specific evidence of each run (HTTP phases, the TLS certificate,
-- the DNS answer, traceroute hops) as one jsonb document, so adding a probe kind adds keys,
-- not columns. Keys, when present: http {connect_ms, tls_ms, first_byte_ms, total_ms},
-- tls {verified, days_left, verify_error}, dns {rcode, aa, answers, soa_serial, over_tcp},
-- trace {reached, last_responsive_ttl, hops: [{ttl, address, rtt_ms}]}.
ALTER TABLE parallax.results ADD COLUMN detail jsonb;

CREATE OR REPLACE VIEW parallax.result_view AS
SELECT r.ts,
       a.name       AS agent,
       a.country    AS agent_country,
       t.name       AS target,
       t.address,
       t.group_name,
       t.role,
       p.kind,
       p.spec,
       r.status,
       r.rtt_ms,
       r.app_code,
       r.icmp_type,
       r.icmp_code,
       r.icmp_from,
       r.message,
       r.control,
       r.received_at,
       r.detail
FROM parallax.results r
LEFT JOIN parallax.agents a ON a.id = r.agent_id
LEFT JOIN parallax.probes p ON p.id = r.probe_id
LEFT JOIN parallax.targets t ON t.id = p.target_id;
