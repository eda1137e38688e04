-- The ViciDial tables the reader uses, older 2019 schema (version 1540), from ../shared/spec/vicidial.md:
-- vicidial_live_agents has no last_inbound_call_time_filtered, last_inbound_call_finish_filtered or
-- dial_campaign_id, and its last_update_time is a plain TIMESTAMP. Statements end with ";" at the end of a line.
CREATE TABLE vicidial_live_agents (
  live_agent_id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  user VARCHAR(20),
  server_ip VARCHAR(15) NOT NULL,
  extension VARCHAR(100),
  status ENUM('READY','QUEUE','INCALL','PAUSED','CLOSER','MQUEUE') DEFAULT 'PAUSED',
  lead_id INT UNSIGNED NOT NULL,
  campaign_id VARCHAR(8),
  uniqueid VARCHAR(20),
  callerid VARCHAR(20),
  channel VARCHAR(100),
  last_call_time DATETIME,
  last_update_time TIMESTAMP,
  last_call_finish DATETIME,
  comments VARCHAR(20),
  calls_today SMALLINT UNSIGNED DEFAULT 0,
  last_state_change DATETIME,
  pause_code VARCHAR(6) DEFAULT '',
  last_inbound_call_time DATETIME,
  last_inbound_call_finish DATETIME,
  INDEX (user)
) ENGINE=MyISAM;
CREATE TABLE vicidial_auto_calls (
  auto_call_id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  server_ip VARCHAR(15) NOT NULL,
  campaign_id VARCHAR(20),
  status ENUM('SENT','RINGING','LIVE','XFER','PAUSED','CLOSER','BUSY','DISCONNECT','IVR') DEFAULT 'PAUSED',
  lead_id INT UNSIGNED NOT NULL,
  uniqueid VARCHAR(20),
  callerid VARCHAR(20),
  channel VARCHAR(100),
  phone_code VARCHAR(10),
  phone_number VARCHAR(18),
  call_time DATETIME,
  call_type ENUM('IN','OUT','OUTBALANCE') DEFAULT 'OUT',
  stage VARCHAR(20) DEFAULT 'START',
  last_update_time TIMESTAMP,
  queue_priority TINYINT DEFAULT 0,
  queue_position SMALLINT UNSIGNED DEFAULT 1
) ENGINE=MEMORY;
CREATE TABLE vicidial_closer_log (
  closecallid INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  lead_id INT UNSIGNED NOT NULL,
  campaign_id VARCHAR(20),
  call_date DATETIME,
  start_epoch INT UNSIGNED,
  end_epoch INT UNSIGNED,
  length_in_sec INT,
  status VARCHAR(6),
  phone_number VARCHAR(18),
  user VARCHAR(20),
  queue_seconds DECIMAL(7,2) DEFAULT 0,
  term_reason ENUM('CALLER','AGENT','QUEUETIMEOUT','ABANDON','AFTERHOURS','HOLDRECALLXFER','HOLDTIME','NOAGENT','NONE','MAXCALLS','ACFILTER','CLOSETIME') DEFAULT 'NONE',
  uniqueid VARCHAR(20) NOT NULL DEFAULT '',
  INDEX (call_date)
) ENGINE=MyISAM;
CREATE TABLE recording_log (
  recording_id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  channel VARCHAR(100),
  server_ip VARCHAR(15),
  start_time DATETIME,
  end_time DATETIME,
  length_in_sec MEDIUMINT UNSIGNED,
  filename VARCHAR(100),
  lead_id INT UNSIGNED,
  user VARCHAR(20),
  vicidial_id VARCHAR(20),
  INDEX (vicidial_id)
) ENGINE=MyISAM;
-- Tables of the KPI families. Schema 1540 has no SHARED_* dial methods (added in 1614) and no RHOLD/RQUEUE hopper
-- statuses (added in 1699).
CREATE TABLE vicidial_campaigns (
  campaign_id VARCHAR(8) PRIMARY KEY NOT NULL,
  campaign_name VARCHAR(40),
  active ENUM('Y','N'),
  auto_dial_level VARCHAR(6) DEFAULT '0',
  dial_method ENUM('MANUAL','RATIO','ADAPT_HARD_LIMIT','ADAPT_TAPERED','ADAPT_AVERAGE','INBOUND_MAN') DEFAULT 'MANUAL',
  hopper_level INT(8) UNSIGNED DEFAULT '1',
  adaptive_dropped_percentage VARCHAR(4) DEFAULT '3',
  drop_rate_group VARCHAR(20) DEFAULT 'DISABLED'
) ENGINE=MyISAM;
CREATE TABLE vicidial_campaign_stats (
  campaign_id VARCHAR(20) PRIMARY KEY NOT NULL,
  update_time TIMESTAMP,
  dialable_leads INT(9) UNSIGNED DEFAULT '0',
  calls_today INT(9) UNSIGNED DEFAULT '0',
  answers_today INT(9) UNSIGNED DEFAULT '0',
  drops_today DECIMAL(12,3) DEFAULT '0',
  drops_today_pct VARCHAR(6) DEFAULT '0',
  drops_answers_today_pct VARCHAR(6) DEFAULT '0',
  calls_hour INT(9) UNSIGNED DEFAULT '0',
  calls_onemin INT(9) UNSIGNED DEFAULT '0',
  agent_calls_today INT(9) UNSIGNED DEFAULT '0',
  agent_wait_today BIGINT(14) UNSIGNED DEFAULT '0',
  agent_custtalk_today BIGINT(14) UNSIGNED DEFAULT '0',
  agent_acw_today BIGINT(14) UNSIGNED DEFAULT '0',
  agent_pause_today BIGINT(14) UNSIGNED DEFAULT '0',
  answering_machines_today INT(9) UNSIGNED DEFAULT '0',
  agenthandled_today INT(9) UNSIGNED DEFAULT '0'
) ENGINE=MyISAM;
CREATE TABLE vicidial_hopper (
  hopper_id INT(9) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
  lead_id INT(9) UNSIGNED NOT NULL,
  campaign_id VARCHAR(8),
  status ENUM('READY','QUEUE','INCALL','DONE','HOLD','DNC') DEFAULT 'READY',
  user VARCHAR(20),
  list_id BIGINT(14) UNSIGNED NOT NULL,
  priority TINYINT(2) DEFAULT '0',
  INDEX (lead_id)
) ENGINE=MyISAM;
CREATE TABLE vicidial_log (
  uniqueid VARCHAR(20) PRIMARY KEY NOT NULL,
  lead_id INT(9) UNSIGNED NOT NULL,
  list_id BIGINT(14) UNSIGNED,
  campaign_id VARCHAR(8),
  call_date DATETIME,
  start_epoch INT(10) UNSIGNED,
  end_epoch INT(10) UNSIGNED,
  length_in_sec INT(10),
  status VARCHAR(6),
  phone_code VARCHAR(10),
  phone_number VARCHAR(18),
  user VARCHAR(20),
  comments VARCHAR(255),
  processed ENUM('Y','N'),
  user_group VARCHAR(20),
  term_reason ENUM('CALLER','AGENT','QUEUETIMEOUT','ABANDON','AFTERHOURS','NONE','SYSTEM') DEFAULT 'NONE',
  alt_dial VARCHAR(6) DEFAULT 'NONE',
  called_count SMALLINT(5) UNSIGNED DEFAULT '0',
  INDEX (lead_id),
  INDEX (call_date)
) ENGINE=MyISAM;
CREATE TABLE vicidial_agent_log (
  agent_log_id INT(9) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
  user VARCHAR(20),
  server_ip VARCHAR(15) NOT NULL,
  event_time DATETIME,
  lead_id INT(9) UNSIGNED,
  campaign_id VARCHAR(8),
  pause_epoch INT(10) UNSIGNED,
  pause_sec SMALLINT(5) UNSIGNED DEFAULT '0',
  wait_epoch INT(10) UNSIGNED,
  wait_sec SMALLINT(5) UNSIGNED DEFAULT '0',
  talk_epoch INT(10) UNSIGNED,
  talk_sec SMALLINT(5) UNSIGNED DEFAULT '0',
  dispo_epoch INT(10) UNSIGNED,
  dispo_sec SMALLINT(5) UNSIGNED DEFAULT '0',
  status VARCHAR(6),
  user_group VARCHAR(20),
  comments VARCHAR(20),
  sub_status VARCHAR(6),
  dead_epoch INT(10) UNSIGNED,
  dead_sec SMALLINT(5) UNSIGNED DEFAULT '0',
  processed ENUM('Y','N') DEFAULT 'N',
  uniqueid VARCHAR(20) DEFAULT '',
  pause_type ENUM('UNDEFINED','SYSTEM','AGENT','API','ADMIN') DEFAULT 'UNDEFINED',
  INDEX (lead_id),
  INDEX (user),
  INDEX (event_time)
) ENGINE=MyISAM;
CREATE TABLE vicidial_inbound_groups (
  group_id VARCHAR(20) PRIMARY KEY NOT NULL,
  group_name VARCHAR(30),
  active ENUM('Y','N'),
  answer_sec_pct_rt_stat_one SMALLINT(5) UNSIGNED DEFAULT '20',
  answer_sec_pct_rt_stat_two SMALLINT(5) UNSIGNED DEFAULT '30'
) ENGINE=MyISAM;
CREATE TABLE vicidial_statuses (
  status VARCHAR(6) PRIMARY KEY NOT NULL,
  status_name VARCHAR(30),
  selectable ENUM('Y','N'),
  human_answered ENUM('Y','N') DEFAULT 'N',
  category VARCHAR(20) DEFAULT 'UNDEFINED',
  sale ENUM('Y','N') DEFAULT 'N',
  answering_machine ENUM('Y','N') DEFAULT 'N'
) ENGINE=MyISAM;
CREATE TABLE vicidial_campaign_statuses (
  status VARCHAR(6) NOT NULL,
  status_name VARCHAR(30),
  selectable ENUM('Y','N'),
  campaign_id VARCHAR(20),
  human_answered ENUM('Y','N') DEFAULT 'N',
  category VARCHAR(20) DEFAULT 'UNDEFINED',
  answering_machine ENUM('Y','N') DEFAULT 'N',
  INDEX (campaign_id)
) ENGINE=MyISAM;
