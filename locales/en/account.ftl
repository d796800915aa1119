# "My account" (the account page) and forgotten passwords (English).

account-title = My account
account-profile = Account
account-summary = { $email } · { $role } · joined { $joined }
account-name-hint = (leave it empty to show no name)
account-name-save = Save name
account-password-heading = Change password
account-password-note = Changing it logs out every other device and every API token; this browser stays logged in.
account-current-password = Current password
account-password-submit = Change password
account-sessions = Logged-in devices
account-session-kind = Kind
account-session-created = Logged in
account-session-expires = Expires
account-this-device = This device
account-logout-everywhere = Log out on every device
account-logout-everywhere-note = This browser is logged out too.
session-kind-api = API token
session-kind-page = Web browser

password-new = New password
password-new-confirm = Confirm new password
password-rule = The password must be 8 to 72 bytes long. (A Korean character takes 3 bytes.)
password-confirm-differs = The new password and its confirmation do not match. Please type them again.
account-bad-name = Please enter a name of at most 100 characters, without invisible or control characters.
account-wrong-password = The current password is not correct.
flash-name-saved = Your name is saved.
flash-password-changed = Your password is changed. Every other device and API token has been logged out.

reset-request-title = Reset password
reset-request-heading = Forgot your password?
reset-request-intro = Enter the email address you signed up with and we will send you a link to choose a new password. The link works once, for { $minutes } minutes.
reset-request-submit = Send me a reset link
reset-no-mail = This building's system does not send mail. Please ask the management office to reset your password.
reset-no-mail-office = After checking who you are, the office will give you a reset link that works once. The link is valid for { $minutes } minutes.
reset-back-to-login = Back to log in
reset-bad-email = Please enter a valid email address.
# The answer to every request for a link by mail, whether or not the address has an account.
flash-reset-link-sent = If an account is registered with that address, we have sent it a password reset link. If no mail arrives within a few minutes, check your spam folder or contact the management office.
flash-reset-ask-the-office = Mail cannot be sent. Please ask the management office to reset your password.

reset-new-title = New password
reset-new-heading = Choose a new password
reset-new-intro = Enter a new password for the account { $email }. Saving it logs you out on every device.
reset-new-submit = Save password
reset-new-dead-link = This link cannot be used. It has already been used, it expired after { $minutes } minutes, or the address is wrong.
reset-new-ask-again = Get a new reset link
flash-new-password-saved = Your new password is saved. Please log in with it.

reset-link-title = Password reset link
reset-link-intro = This is the reset link for the account { $email }. Hand it only to the account's owner, in person. Once you leave this page it cannot be shown again.
reset-link-label = Link
reset-link-hint = (valid until { $expires }, works once)
reset-link-note = Once a new password is set, the account is logged out on every device.
reset-link-back = Back to users

# The mail with a reset link, in the language of the visitor who asked for it.
reset-mail-subject = Resetting your password
reset-mail-greeting = Hello { $name },
reset-mail-requested = A password reset was requested for your building maintenance account ({ $email }).
reset-mail-open = Open the link below to choose a new password.
reset-mail-expiry = The link works once, for { $minutes } minutes. Setting a new password logs you out on every device.
reset-mail-ignore = If you did not ask for this, please ignore this mail. Your password stays the same.
