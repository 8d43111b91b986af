-- Tables of the LibreChat history export (export_metrics.py), for the compose stack's first start.
--
-- MariaDB runs this file once, on an empty data volume, inside the database named by MYSQL_DATABASE
-- (the compose file passes it as MARIADB_DATABASE; the image also creates MYSQL_USER with all rights
-- on it). It only creates missing tables and never drops anything; export_metrics.py creates the
-- same tables itself when they are missing, so this file is a convenience, not a requirement.
--
-- Names and columns are those of the original init.sql, so existing dashboards and queries keep
-- working; counts are BIGINT and token sums DOUBLE (64-bit). daily_users.computed_at (UTC) is new:
-- a day stored before it had ended is recomputed by the next run. Text keys use a binary, no-pad
-- collation so that model or user names differing only in case or trailing spaces stay apart.

CREATE TABLE IF NOT EXISTS `daily_users` (
  `date` DATE NOT NULL,
  `unique_users` BIGINT NOT NULL,
  `computed_at` DATETIME NULL,
  PRIMARY KEY (`date`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `daily_messages` (
  `date` DATE NOT NULL,
  `total_messages` BIGINT NOT NULL,
  `total_conversations` BIGINT NOT NULL,
  PRIMARY KEY (`date`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `daily_messages_by_model` (
  `date` DATE NOT NULL,
  `model` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  `message_count` BIGINT NOT NULL,
  PRIMARY KEY (`date`, `model`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `daily_tokens_by_model` (
  `date` DATE NOT NULL,
  `model` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  `input_tokens` DOUBLE NOT NULL,
  `output_tokens` DOUBLE NOT NULL,
  PRIMARY KEY (`date`, `model`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `daily_tokens_by_user` (
  `date` DATE NOT NULL,
  `user` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  `input_tokens` DOUBLE NOT NULL,
  `output_tokens` DOUBLE NOT NULL,
  PRIMARY KEY (`date`, `user`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `daily_errors_by_model` (
  `date` DATE NOT NULL,
  `model` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  `error_count` BIGINT NOT NULL,
  PRIMARY KEY (`date`, `model`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- What LibreChat costs (issue #12): spend and cache tokens, endpoints, unfinished replies, agents and
-- response-time percentiles per day (docs/semantics.md "History rows").

CREATE TABLE IF NOT EXISTS `daily_cost_by_model` (
  `date` DATE NOT NULL,
  `model` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  `spend_usd` DOUBLE NOT NULL,
  `cache_read_tokens` DOUBLE NOT NULL,
  `cache_write_tokens` DOUBLE NOT NULL,
  PRIMARY KEY (`date`, `model`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `daily_messages_by_endpoint` (
  `date` DATE NOT NULL,
  `endpoint` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  `message_count` BIGINT NOT NULL,
  `error_count` BIGINT NOT NULL,
  PRIMARY KEY (`date`, `endpoint`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `daily_unfinished_by_model` (
  `date` DATE NOT NULL,
  `model` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  `unfinished_count` BIGINT NOT NULL,
  PRIMARY KEY (`date`, `model`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `daily_replies_by_agent` (
  `date` DATE NOT NULL,
  `agent_id` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  `reply_count` BIGINT NOT NULL,
  `error_count` BIGINT NOT NULL,
  PRIMARY KEY (`date`, `agent_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `daily_spend_by_agent` (
  `date` DATE NOT NULL,
  `agent_id` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  `spend_usd` DOUBLE NOT NULL,
  PRIMARY KEY (`date`, `agent_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `daily_response_time_by_model` (
  `date` DATE NOT NULL,
  `model` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  `first_replies` BIGINT NOT NULL,
  `p50_seconds` DOUBLE NOT NULL,
  `p90_seconds` DOUBLE NOT NULL,
  `p99_seconds` DOUBLE NOT NULL,
  PRIMARY KEY (`date`, `model`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- p50_seconds, p90_seconds: NULL for a status without finished runs (skipped runs have no duration).
CREATE TABLE IF NOT EXISTS `daily_schedule_runs` (
  `date` DATE NOT NULL,
  `status` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  `run_count` BIGINT NOT NULL,
  `p50_seconds` DOUBLE NULL,
  `p90_seconds` DOUBLE NULL,
  PRIMARY KEY (`date`, `status`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `daily_cost_by_group` (
  `date` DATE NOT NULL,
  `group` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  `spend_usd` DOUBLE NOT NULL,
  `tokens_in` DOUBLE NOT NULL,
  `tokens_out` DOUBLE NOT NULL,
  `active_users` BIGINT NOT NULL,
  PRIMARY KEY (`date`, `group`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- distinct users (people) of each agent's replies that day
CREATE TABLE IF NOT EXISTS `daily_users_by_agent` (
  `date` DATE NOT NULL,
  `agent_id` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  `active_users` BIGINT NOT NULL,
  PRIMARY KEY (`date`, `agent_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `daily_registrations` (
  `date` DATE NOT NULL,
  `new_users` BIGINT NOT NULL,
  PRIMARY KEY (`date`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `daily_retention` (
  `date` DATE NOT NULL,
  `cohort_1d` BIGINT NOT NULL,
  `retained_1d` BIGINT NOT NULL,
  `cohort_7d` BIGINT NOT NULL,
  `retained_7d` BIGINT NOT NULL,
  `cohort_30d` BIGINT NOT NULL,
  `retained_30d` BIGINT NOT NULL,
  PRIMARY KEY (`date`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- tokens_in, tokens_out, spend_usd: NULL only in rows stored before these columns existed (the export
-- adds them to an older table); email, name: NULL unless EXPORT_USER_DETAILS=true
CREATE TABLE IF NOT EXISTS `daily_user_messages` (
  `date` DATE NOT NULL,
  `user` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  `messages` BIGINT NOT NULL,
  `top_model` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  `tokens_in` DOUBLE NULL,
  `tokens_out` DOUBLE NULL,
  `spend_usd` DOUBLE NULL,
  `email` VARCHAR(255) COLLATE utf8mb4_nopad_bin NULL,
  `name` VARCHAR(255) COLLATE utf8mb4_nopad_bin NULL,
  PRIMARY KEY (`date`, `user`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `daily_churn` (
  `date` DATE NOT NULL,
  `active_users_28d` BIGINT NOT NULL,
  `churned_users_28d` BIGINT NOT NULL,
  PRIMARY KEY (`date`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `weekly_users` (
  `week_start` DATE NOT NULL,
  `unique_users` BIGINT NOT NULL,
  PRIMARY KEY (`week_start`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS `monthly_users` (
  `month_start` DATE NOT NULL,
  `unique_users` BIGINT NOT NULL,
  PRIMARY KEY (`month_start`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- signup cohorts per week: retained_Nd is NULL until the Nth day after the week's last signup day is over
CREATE TABLE IF NOT EXISTS `weekly_retention` (
  `week_start` DATE NOT NULL,
  `cohort` BIGINT NOT NULL,
  `retained_1d` BIGINT NULL,
  `retained_7d` BIGINT NULL,
  `retained_30d` BIGINT NULL,
  PRIMARY KEY (`week_start`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- every agent an export has seen, with its last known name and model (refreshed by each export, never
-- deleted: a deleted agent keeps its name)
CREATE TABLE IF NOT EXISTS `agent_info` (
  `agent_id` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  `name` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  `model` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  PRIMARY KEY (`agent_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- whose history this database holds (MongoDB database, LIBRECHAT_TENANT_ID): recorded by the first export
CREATE TABLE IF NOT EXISTS `history_scope` (
  `name` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  `value` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  PRIMARY KEY (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- week and month rows whose days were rewritten since: recomputed by the next export
CREATE TABLE IF NOT EXISTS `history_pending` (
  `table_name` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  `period_start` DATE NOT NULL,
  PRIMARY KEY (`table_name`, `period_start`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- each stored day's users of person messages (digests): later exports compute their windows from them
CREATE TABLE IF NOT EXISTS `history_activity` (
  `date` DATE NOT NULL,
  `user_key` VARCHAR(255) COLLATE utf8mb4_nopad_bin NOT NULL,
  PRIMARY KEY (`date`, `user_key`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;
