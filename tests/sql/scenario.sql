-- A call center at one moment, times relative to NOW(). Two campaigns (SALES, SUPPORT) on dialer 10.0.0.1, one agent
-- and some calls on dialer 10.0.0.2; in-groups IN_SALES and IN_SUP. tests/vicidial.rs holds the expected page.
-- Works on both schemas (no column of the newest ones is named).
INSERT INTO vicidial_live_agents (user, server_ip, extension, status, lead_id, campaign_id, last_state_change, pause_code, comments) VALUES
  ('a01', '10.0.0.1', 'SIP/1001', 'READY',  0,   'SALES',   NOW() - INTERVAL 30 SECOND,  '',      ''),
  ('a02', '10.0.0.1', 'SIP/1002', 'QUEUE',  101, 'SALES',   NOW() - INTERVAL 5 SECOND,   '',      ''),
  ('a03', '10.0.0.1', 'SIP/1003', 'INCALL', 102, 'SALES',   NOW() - INTERVAL 120 SECOND, '',      'AUTO'),
  ('a04', '10.0.0.1', 'SIP/1004', 'PAUSED', 0,   'SALES',   NOW() - INTERVAL 600 SECOND, 'LUNCH', ''),
  ('a05', '10.0.0.1', 'SIP/1005', 'PAUSED', 0,   'SALES',   NOW() - INTERVAL 60 SECOND,  '',      ''),
  ('a06', '10.0.0.1', 'SIP/1006', 'PAUSED', 103, 'SUPPORT', NOW() - INTERVAL 15 SECOND,  'WRAP',  ''),
  ('a07', '10.0.0.1', 'SIP/1007', 'READY',  104, 'SUPPORT', NOW() - INTERVAL 20 SECOND,  '',      ''),
  ('a08', '10.0.0.1', 'SIP/1008', 'CLOSER', 0,   'SUPPORT', NOW() - INTERVAL 45 SECOND,  '',      ''),
  ('a09', '10.0.0.1', 'SIP/1009', 'MQUEUE', 0,   'SUPPORT', NOW() - INTERVAL 10 SECOND,  '',      'EMAIL'),
  ('a10', '10.0.0.1', 'SIP/1010', 'PAUSED', 0,   'SUPPORT', NOW() - INTERVAL 300 SECOND, 'BREAK', ''),
  ('a11', '10.0.0.2', 'SIP/2011', 'INCALL', 105, 'SUPPORT', NOW() - INTERVAL 90 SECOND,  '',      'INBOUND'),
  ('a12', '10.0.0.1', 'SIP/1012', 'INCALL', 106, 'SALES',   NOW() - INTERVAL 200 SECOND, '',      'MANUAL');
INSERT INTO vicidial_auto_calls (server_ip, campaign_id, status, lead_id, phone_code, phone_number, call_time, call_type) VALUES
  ('10.0.0.1', 'SALES',  'LIVE',    201, '1', '5550100201', NOW(), 'OUT'),
  ('10.0.0.1', 'SALES',  'LIVE',    202, '1', '5550100202', NOW(), 'OUT'),
  ('10.0.0.1', 'SALES',  'SENT',    203, '1', '5550100203', NOW(), 'OUT'),
  ('10.0.0.1', 'SALES',  'RINGING', 204, '1', '5550100204', NOW(), 'OUT'),
  ('10.0.0.1', 'IN_SUP', 'LIVE',    205, '1', '5550100205', NOW(), 'IN'),
  ('10.0.0.1', 'IN_SUP', 'LIVE',    206, '1', '5550100206', NOW(), 'IN'),
  ('10.0.0.1', 'IN_SUP', 'LIVE',    207, '1', '5550100207', NOW(), 'IN'),
  ('10.0.0.1', 'IN_SUP', 'CLOSER',  208, '1', '5550100208', NOW(), 'IN'),
  ('10.0.0.2', 'SALES',  'LIVE',    209, '1', '5550100209', NOW(), 'OUT'),
  ('10.0.0.2', 'SALES',  'LIVE',    210, '1', '5550100210', NOW(), 'OUT'),
  ('10.0.0.2', 'IN_SUP', 'XFER',    211, '1', '5550100211', NOW(), 'IN');
INSERT INTO vicidial_closer_log (closecallid, lead_id, campaign_id, call_date, length_in_sec, status, phone_number, user, queue_seconds, term_reason, uniqueid) VALUES
  (1, 301, 'IN_SUP',   NOW() - INTERVAL 10 MINUTE,  120, 'SALE', '5550100301', 'a08', 10.50, 'CALLER',       '1700000001.1'),
  (2, 302, 'IN_SUP',   NOW() - INTERVAL 20 MINUTE,  60,  'NI',   '5550100302', 'a10', 4.50,  'AGENT',        '1700000002.1'),
  (3, 303, 'IN_SUP',   NOW() - INTERVAL 5 MINUTE,   5,   'DROP', '5550100303', '',    30.00, 'ABANDON',      '1700000003.1'),
  (4, 304, 'IN_SALES', NOW() - INTERVAL 30 MINUTE,  11,  'SALE', '5550100304', 'a03', 0.00,  'CALLER',       '1700000004.1'),
  (5, 305, 'IN_SALES', NOW() - INTERVAL 50 MINUTE,  200, 'AFTHRS','5550100305', '',   60.00, 'QUEUETIMEOUT', '1700000005.1'),
  (6, 306, 'IN_SALES', NOW() - INTERVAL 40 MINUTE,  10,  'SALE', '5550100306', 'a12', 3.00,  'CALLER',       '1700000006.1'),
  (7, 307, 'IN_SUP',   NOW() - INTERVAL 2 HOUR,     300, 'SALE', '5550100307', 'a08', 8.00,  'CALLER',       '1700000007.1'),
  (8, 308, 'IN_SALES', NOW() - INTERVAL 61 MINUTE,  90,  'SALE', '5550100308', 'a03', 1.00,  'AGENT',        '1700000008.1');
INSERT INTO recording_log (channel, server_ip, start_time, end_time, length_in_sec, filename, lead_id, user, vicidial_id) VALUES
  ('SIP/1008-0001', '10.0.0.1', NOW() - INTERVAL 10 MINUTE, NOW() - INTERVAL 8 MINUTE, 120, '20260101-100000_5550100301', 301, 'a08', '1'),
  ('SIP/1003-0002', '10.0.0.1', NOW() - INTERVAL 50 MINUTE, NOW() - INTERVAL 47 MINUTE, 200, '20260101-090000_5550100305', 305, '', '5'),
  ('SIP/1009-0003', '10.0.0.1', NOW() - INTERVAL 30 MINUTE, NOW() - INTERVAL 29 MINUTE, 60, '20260101-093000_outbound', 999, 'a09', '1700000999.1');
