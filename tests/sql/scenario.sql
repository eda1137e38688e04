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
-- KPI tables. Campaigns SALES, SUPPORT (active) and OLDCAMP (inactive); ViciDial's own counters of today.
INSERT INTO vicidial_campaigns (campaign_id, campaign_name, active, auto_dial_level, dial_method) VALUES
  ('SALES',   'Sales',   'Y', '2.5', 'ADAPT_TAPERED'),
  ('SUPPORT', 'Support', 'Y', '1',   'RATIO'),
  ('OLDCAMP', 'Old',     'N', '0',   'MANUAL');
INSERT INTO vicidial_campaign_stats (campaign_id, calls_today, answers_today, drops_today, drops_today_pct, drops_answers_today_pct, calls_onemin) VALUES
  ('SALES',   1200, 400, 10.000, '0.83', '2.50', 14),
  ('SUPPORT', 300,  150, 6.000,  '2.00', '4.00', 3),
  ('OLDCAMP', 0,    0,   0.000,  '0',    '0',    0);
-- Hopper: SALES has 3 leads ready (QUEUE and DONE do not count), SUPPORT none although its agents wait.
INSERT INTO vicidial_hopper (lead_id, campaign_id, status, list_id) VALUES
  (401, 'SALES', 'READY', 1001), (402, 'SALES', 'READY', 1001), (403, 'SALES', 'READY', 1001),
  (404, 'SALES', 'QUEUE', 1001), (405, 'SALES', 'DONE', 1001);
-- In-groups with their service level (seconds): IN_SLA 20, IN_SLB 30 (inactive, with calls), IN_IDLE 20 (no
-- calls), IN_OFF (inactive, no calls). IN_SUP and IN_SALES above are not defined here: the service families
-- leave them out.
INSERT INTO vicidial_inbound_groups (group_id, group_name, active, answer_sec_pct_rt_stat_one) VALUES
  ('IN_SLA', 'A', 'Y', 20), ('IN_SLB', 'B', 'N', 30), ('IN_IDLE', 'Idle', 'Y', 20), ('IN_OFF', 'Off', 'N', 25);
-- Closer calls of today (seconds old) and one of yesterday; answered exactly at the threshold counts as in time.
INSERT INTO vicidial_closer_log (closecallid, lead_id, campaign_id, call_date, length_in_sec, status, phone_number, user, queue_seconds, term_reason, uniqueid) VALUES
  (9,  309, 'IN_SLA', NOW() - INTERVAL 50 SECOND, 10, 'SALE',  '5550100309', 'a08', 20.00, 'AGENT',   '1700000009.1'),
  (10, 310, 'IN_SLA', NOW() - INTERVAL 45 SECOND, 9,  'SALE',  '5550100310', 'a08', 20.01, 'CALLER',  '1700000010.1'),
  (11, 311, 'IN_SLA', NOW() - INTERVAL 40 SECOND, 8,  'NI',    '5550100311', 'a10', 5.00,  'AGENT',   '1700000011.1'),
  (12, 312, 'IN_SLA', NOW() - INTERVAL 35 SECOND, 0,  'DROP',  '5550100312', '',    45.00, 'ABANDON', '1700000012.1'),
  (13, 313, 'IN_SLA', NOW() - INTERVAL 30 SECOND, 0,  'XDROP', '5550100313', '',    30.00, 'ABANDON', '1700000013.1'),
  (14, 314, 'IN_SLA', NOW() - INTERVAL 25 SECOND, 0,  'QUEUE', '5550100314', '',    2.00,  'NONE',    '1700000014.1'),
  (15, 315, 'IN_SLA', CURDATE() - INTERVAL 2 HOUR, 9, 'SALE',  '5550100315', 'a08', 1.00,  'AGENT',   '1700000015.1'),
  (16, 316, 'IN_SLB', NOW() - INTERVAL 20 SECOND, 7,  'SALE',  '5550100316', 'a08', 30.00, 'AGENT',   '1700000016.1'),
  (17, 317, 'IN_SLB', NOW() - INTERVAL 15 SECOND, 0,  'AFTHRS','5550100317', '',    0.00,  'AFTERHOURS', '1700000017.1');
-- Human-answered statuses: SALE and NI for every campaign, SURV for SUPPORT only.
INSERT INTO vicidial_statuses (status, status_name, selectable, human_answered) VALUES
  ('SALE', 'Sale', 'Y', 'Y'), ('NI', 'Not interested', 'Y', 'Y'), ('NA', 'No answer', 'N', 'N'),
  ('DROP', 'Drop', 'N', 'N'), ('XDROP', 'Drop in queue', 'N', 'N'), ('A', 'Answering machine', 'N', 'N');
INSERT INTO vicidial_campaign_statuses (status, status_name, selectable, campaign_id, human_answered) VALUES
  ('SURV', 'Survey', 'Y', 'SUPPORT', 'Y'), ('SURV', 'Survey', 'Y', 'SALES', 'N');
-- Outbound calls inside the 30-day window (today and the 29 days before) and outside it. A DROP longer than
-- 6000 s and an XDROP are not drops for ViciDial's outbound report.
INSERT INTO vicidial_log (uniqueid, lead_id, campaign_id, call_date, length_in_sec, status, phone_number, user) VALUES
  ('1700001001.1', 501, 'SALES',   NOW() - INTERVAL 30 SECOND, 100, 'SALE', '5550101001', 'a03'),
  ('1700001002.1', 502, 'SALES',   NOW() - INTERVAL 20 SECOND, 50,  'NI',   '5550101002', 'a12'),
  ('1700001003.1', 503, 'SALES',   NOW() - INTERVAL 10 SECOND, 3,   'DROP', '5550101003', 'VDAD'),
  ('1700001014.1', 514, 'SALES',   NOW() - INTERVAL 5 SECOND,  NULL, 'DROP', '5550101014', 'VDAD'),
  ('1700001004.1', 504, 'SALES',   CURDATE() - INTERVAL 5 DAY + INTERVAL 9 HOUR, 7000, 'DROP', '5550101004', 'VDAD'),
  ('1700001005.1', 505, 'SALES',   CURDATE() - INTERVAL 5 DAY + INTERVAL 10 HOUR, 30, 'NA', '5550101005', 'VDAD'),
  ('1700001006.1', 506, 'SALES',   CURDATE() - INTERVAL 29 DAY + INTERVAL 1 HOUR, 60, 'SALE', '5550101006', 'a03'),
  ('1700001007.1', 507, 'SALES',   CURDATE() - INTERVAL 29 DAY + INTERVAL 2 HOUR, 0, 'DROP', '5550101007', 'VDAD'),
  ('1700001008.1', 508, 'SALES',   CURDATE() - INTERVAL 30 DAY + INTERVAL 23 HOUR, 60, 'SALE', '5550101008', 'a03'),
  ('1700001009.1', 509, 'SALES',   CURDATE() - INTERVAL 30 DAY + INTERVAL 23 HOUR + INTERVAL 59 MINUTE, 0, 'DROP', '5550101009', 'VDAD'),
  ('1700001010.1', 510, 'SALES',   CURDATE() - INTERVAL 45 DAY, 0, 'DROP', '5550101010', 'VDAD'),
  ('1700001011.1', 511, 'SALES',   CURDATE() - INTERVAL 10 DAY + INTERVAL 11 HOUR, 40, 'SURV', '5550101011', 'a03'),
  ('1700001012.1', 512, 'SALES',   CURDATE() - INTERVAL 1 DAY + INTERVAL 12 HOUR, 80, 'SALE', '5550101012', 'a12'),
  ('1700001013.1', 513, 'SALES',   CURDATE() - INTERVAL 1 DAY + INTERVAL 13 HOUR, 0, 'XDROP', '5550101013', 'VDAD'),
  ('1700002001.1', 601, 'SUPPORT', CURDATE() - INTERVAL 2 DAY + INTERVAL 9 HOUR, 70, 'SURV', '5550102001', 'a06'),
  ('1700002002.1', 602, 'SUPPORT', CURDATE() - INTERVAL 2 DAY + INTERVAL 10 HOUR, 90, 'SALE', '5550102002', 'a07'),
  ('1700002003.1', 603, 'SUPPORT', NOW() - INTERVAL 15 SECOND, 2, 'DROP', '5550102003', 'VDAD'),
  ('1700002004.1', 604, 'SUPPORT', CURDATE() - INTERVAL 31 DAY + INTERVAL 9 HOUR, 60, 'SALE', '5550102004', 'a06');
-- Agent time of today (one row per call or pause; one corrupt row and one of yesterday do not count).
INSERT INTO vicidial_agent_log (user, server_ip, event_time, lead_id, campaign_id, pause_sec, wait_sec, talk_sec, dispo_sec, dead_sec, status) VALUES
  ('a03', '10.0.0.1', NOW() - INTERVAL 50 SECOND, 501, 'SALES',   10,  20, 100,   15, 5,  'SALE'),
  ('a12', '10.0.0.1', NOW() - INTERVAL 40 SECOND, 502, 'SALES',   0,   30, 200,   25, 0,  'NI'),
  ('a04', '10.0.0.1', NOW() - INTERVAL 30 SECOND, 0,   'SALES',   300, 0,  0,     0,  0,  NULL),
  ('a05', '10.0.0.1', NOW() - INTERVAL 20 SECOND, 503, 'SALES',   0,   10, 65000, 0,  0,  'SALE'),
  ('a03', '10.0.0.1', CURDATE() - INTERVAL 1 HOUR, 504, 'SALES',  0,   5,  999,   9,  0,  'SALE'),
  ('a06', '10.0.0.1', NOW() - INTERVAL 10 SECOND, 601, 'SUPPORT', 5,   60, 90,    30, 10, 'SURV');
