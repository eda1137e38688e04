-- The four ViciDial tables the reader uses, older 2019 schema (version 1540), from ../shared/spec/vicidial.md:
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
