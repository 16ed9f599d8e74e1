"""``closedloop users``: staff accounts, their roles, passwords and API tokens."""

from __future__ import annotations

import os
import sys
from datetime import timedelta

import typer
from rich.table import Table

from closedloop.cli._common import JsonOption, console, err_console, print_json, session_scope
from closedloop.db.base import utcnow
from closedloop.users import service
from closedloop.users.models import User
from closedloop.users.permissions import Permission, allowed
from closedloop.vocab import Role

PASSWORD_ENV = "CLOSEDLOOP_NEW_PASSWORD"  # noqa: S105 (the variable name, not a password)

users_app = typer.Typer(
    name="users",
    help="Staff users: create them, list them, set passwords and roles, issue API tokens, sign "
    "them out.",
    no_args_is_help=True,
)

PasswordStdin = typer.Option(
    False,
    "--password-stdin",
    help="Read the password from standard input (e.g. from a secrets manager or a pipe).",
)


def read_password(from_stdin: bool) -> str:
    """The new password: from stdin, else $CLOSEDLOOP_NEW_PASSWORD, else asked twice (hidden)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if sys.stdin.isatty():
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    err_console.print(
        "[red]error:[/red] no password given: use --password-stdin, set "
        f"{PASSWORD_ENV}, or run the command in a terminal to be asked for it."
    )
    raise typer.Exit(code=2)


def _user_dict(user: User) -> dict[str, object]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "full_name": user.full_name,
        "email": user.email,
        "is_active": user.is_active,
        "created_at": user.created_at,
        "last_login_at": user.last_login_at,
        "permissions": [p.value for p in Permission if allowed(user.role, p)],
    }


@users_app.command("create")
def create(
    username: str = typer.Argument(..., help="Login name (1–64 characters)."),
    role: Role = typer.Option(..., "--role", help="What the user may do."),
    full_name: str | None = typer.Option(None, "--full-name", help="Name shown in the UI."),
    email: str | None = typer.Option(None, "--email", help="The user's email address."),
    password_stdin: bool = PasswordStdin,
    json_output: bool = JsonOption,
) -> None:
    """Create a user with a role: admin, marketer, analyst or agent.

    Password (10+ characters): --password-stdin, else $CLOSEDLOOP_NEW_PASSWORD, else prompted.
    """
    password = read_password(password_stdin)
    with session_scope() as session:
        user = service.create_user(
            session, username, password, role, full_name=full_name, email=email
        )
        data = _user_dict(user)
    if json_output:
        print_json(data)
    else:
        console.print(f"Created user [bold]{data['username']}[/bold] ({data['role']}).")


@users_app.command("list")
def list_users(json_output: bool = JsonOption) -> None:
    """List every user with their role and last login."""
    with session_scope() as session:
        rows = [_user_dict(u) for u in service.list_users(session)]
    if json_output:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} user(s)")
    for column in ("username", "role", "full name", "email", "active", "last login"):
        table.add_column(column)
    for row in rows:
        last = row["last_login_at"]
        table.add_row(
            str(row["username"]),
            str(row["role"]),
            str(row["full_name"] or ""),
            str(row["email"] or ""),
            "yes" if row["is_active"] else "no",
            f"{last:%Y-%m-%d %H:%M}" if last else "never",
        )
    console.print(table)


@users_app.command("set-password")
def set_password(
    username: str = typer.Argument(..., help="The user whose password changes."),
    password_stdin: bool = PasswordStdin,
) -> None:
    """Replace a user's password (read as for "users create")."""
    password = read_password(password_stdin)
    with session_scope() as session:
        service.set_password(session, username, password)
    console.print(f"Password of [bold]{username}[/bold] changed.")


@users_app.command("token")
def token(
    username: str = typer.Argument(..., help="The user the token acts for."),
    name: str = typer.Option("cli", "--name", help="A label to recognise the token later."),
    expires_days: int | None = typer.Option(
        None, "--expires-days", min=1, help="Make the token expire after this many days."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Create an API token for USERNAME and print it once: it is never shown again.

    Send it as "Authorization: Bearer TOKEN"; the token has the user's role.
    """
    expires_at = utcnow() + timedelta(days=expires_days) if expires_days else None
    with session_scope() as session:
        plain = service.create_api_token(session, username, name, expires_at)
    if json_output:
        print_json({"username": username, "name": name, "token": plain, "expires_at": expires_at})
        return
    err_console.print(
        f"API token {name!r} for [bold]{username}[/bold] (store it now, it cannot be shown again):"
    )
    # The token alone on stdout, so `TOKEN=$(closedloop users token alice)` works.
    sys.stdout.write(plain + "\n")


@users_app.command("revoke-tokens")
def revoke_tokens(
    username: str = typer.Argument(..., help="The user whose tokens stop working."),
    name: str | None = typer.Option(None, "--name", help="Only the tokens with this label."),
) -> None:
    """Revoke a user's API tokens (all of them, or those with --name) at once."""
    with session_scope() as session:
        count = service.revoke_api_tokens(session, username, name)
    console.print(f"Revoked {count} token(s) of [bold]{username}[/bold].")


@users_app.command("role")
def set_role(
    username: str = typer.Argument(..., help="The user whose role changes."),
    role: Role = typer.Argument(..., help="The new role."),
) -> None:
    """Give a user another role; their web sessions end at once (tokens follow the role)."""
    with session_scope() as session:
        user = service.set_role(session, username, role)
        service.audit(session, None, "user_role", "user", user.id, channel="cli",
                      detail={"username": username, "to": role.value})  # fmt: skip
    console.print(f"[bold]{username}[/bold] is now {role.value}; their sessions were ended.")


@users_app.command("deactivate")
def deactivate(
    username: str = typer.Argument(..., help="The user who may no longer log in."),
) -> None:
    """Stop a user from logging in or using tokens; their web sessions end at once."""
    with session_scope() as session:
        user = service.set_active(session, username, False)
        service.audit(session, None, "user_deactivate", "user", user.id, channel="cli")
    console.print(f"[bold]{username}[/bold] was deactivated and signed out.")


@users_app.command("activate")
def activate(username: str = typer.Argument(..., help="The user who may log in again.")) -> None:
    """Let a deactivated user log in again."""
    with session_scope() as session:
        user = service.set_active(session, username, True)
        service.audit(session, None, "user_activate", "user", user.id, channel="cli")
    console.print(f"[bold]{username}[/bold] can log in again.")


@users_app.command("sign-out")
def sign_out(username: str = typer.Argument(..., help="The user to sign out.")) -> None:
    """End every web session of a user, everywhere (their API tokens stay valid)."""
    with session_scope() as session:
        count = service.sign_out_everywhere(session, username)
        user_id = service.get_user(session, username).id
        service.audit(session, None, "user_sign_out", "user", user_id, channel="cli")
    console.print(f"Ended {count} session(s) of [bold]{username}[/bold].")


def register(app: typer.Typer) -> None:
    """Attach ``closedloop users …`` to the main app."""
    app.add_typer(users_app)
