# The landing page, logging in and signing up (English).

landing-title = Welcome
landing-heading = Report a problem in one go
landing-intro = If water is leaking, a light is out or the lift has stopped, tell us here.
    Requests are classified at once (electrical · plumbing · heating & cooling · structural · other;
    priority high · medium · low), passed on to the management office, and you can follow them live.
landing-see-mine = See my requests
landing-how = How it works
# Keys ending in -html hold markup of our own and take no arguments.
landing-step-1-html = Log in, then describe the problem under <strong>New request</strong>, with the location, a contact and a photo.
landing-step-2 = Requests are classified at once, and urgent ones are handled first.
landing-step-3-html = Follow each one under <strong>My requests</strong>: Pending → In progress → Completed.

login-title = Log in
login-submit = Log in
login-no-account = No account yet?
login-forgot-password = Forgot your password?
login-failed = The email or password is not correct.

register-title = Sign up
register-password-hint = (8–72 bytes)
register-submit = Sign up
register-have-account = Already have an account?
register-bad-email = Please enter a valid email address.
register-bad-password = The password must be 8 to 72 bytes long. (A Korean character takes 3 bytes.)
register-email-taken = This email is already registered. Please log in.
register-invalid = Please check what you entered.

flash-welcome = Welcome! Submit your first request.
flash-logged-out = You are logged out.
flash-logged-out-everywhere = You are logged out on every device.
