"""The history export's own settings (the SQL target and personal-data switch), one typed field each."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import Setting, parse_bool, parse_port, parse_text, setting, table
from . import sql


def parse_database_url(raw: str) -> str:
    if raw.strip():
        sql.Target.from_url(raw.strip())
    return raw.strip()


@dataclass(frozen=True)
class HistorySettings:
    """Where the history goes, and whether it may hold e-mail addresses and names."""

    history_database_url: str = setting(
        "HISTORY_DATABASE_URL",
        "",
        parse_database_url,
        "mysql://user:pass@host:3306/db or postgresql://…; when set, the MYSQL_* settings are ignored",
    )
    mysql_host: str = setting("MYSQL_HOST", "mariadb", parse_text, "MariaDB/MySQL host")
    mysql_port: int = setting("MYSQL_PORT", "3306", parse_port, "MariaDB/MySQL port")
    mysql_user: str = setting("MYSQL_USER", "metrics", parse_text, "MariaDB/MySQL user")
    mysql_password: str = setting("MYSQL_PASSWORD", "metrics", parse_text, "MariaDB/MySQL password")
    mysql_database: str = setting("MYSQL_DATABASE", "metrics", parse_text, "MariaDB/MySQL database")
    export_user_details: bool = setting(
        "EXPORT_USER_DETAILS",
        "false",
        parse_bool,
        "true: fill daily_user_messages.email and .name from users (personal data); false: NULL",
    )

    def target(self) -> sql.Target:
        """The SQL target from HISTORY_DATABASE_URL or the MYSQL_* settings."""
        if self.history_database_url:
            return sql.Target.from_url(self.history_database_url)
        return sql.Target(
            "mysql",
            host=self.mysql_host,
            port=self.mysql_port,
            user=self.mysql_user,
            password=self.mysql_password,
            database=self.mysql_database,
        )


HISTORY_SETTINGS: tuple[Setting, ...] = table(HistorySettings)
