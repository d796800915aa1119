# The layout, the labels and what every page shares (English).
# Each message here has its twin in ../ko/common.ftl; a unit test fails when one is missing.

language-name = English
# How dates and times are written (chrono's strftime), on the residents' clock (KST).
format-datetime = %b %-d, %Y, %H:%M

site-name-default = Building maintenance
emergency-default = For a gas smell, a fire, someone trapped or any other emergency, call 119 or the management office right away
emergency-label = Emergency

nav-skip = Skip to content
nav-label = Main menu
nav-new-request = New request
nav-my-requests = My requests
nav-admin = Admin
nav-users = Users
nav-account = My account
nav-logout = Log out
nav-login = Log in
nav-register = Sign up

footer-note = Tell us as soon as something goes wrong. The management office will look into it.
footer-logout-everywhere = Log out on every device
footer-language = Language

action-delete = Delete
action-cancel = Cancel
action-save = Save
action-search = Search
action-new-request = Submit a new request
action-back-to-list = Back to the list
action-delete-request = Delete request

field-email = Email
field-password = Password
field-name = Name
field-role = Role
field-location = Location
field-contact = Contact
field-photo = Photo
field-submitted = Submitted
field-status = Status
field-category = Category
field-priority = Priority
hint-optional = (optional)
filter-all = All

pager-label = Pages
pager-prev = ← Previous
pager-next = Next →
list-total = { $total ->
        [one] 1 request
       *[other] { $total } requests
    } in all
list-total-at-least = { $total } or more requests

status-pending = Pending
status-in_progress = In progress
status-completed = Completed
category-electrical = Electrical
category-plumbing = Plumbing
category-hvac = Heating & cooling
category-structural = Structural
category-other = Other
priority-high = High
priority-medium = Medium
priority-low = Low
role-user = Resident
role-admin = Admin
role-super_admin = Super admin
badge-refining = AI classifying…

error-home = Home
error-csrf-title = The form could not be checked
error-csrf-message = Its security token did not match. Reload the page and try again.
error-forbidden-title = Access denied
error-forbidden-message = You are not allowed to see this page or to do this.
error-not-found-title = Page not found
error-not-found-message = The address may have changed, or the request was deleted.
error-too-large-title = The file is too large
error-too-large-message = Please upload a smaller photo.
error-too-many-title = Please try again in a moment
error-too-many-message = There were too many attempts in a short time.
error-server-title = Something went wrong on our side
error-server-message = Please try again in a moment. If it keeps happening, tell the management office.
error-invalid-title = The request could not be processed
error-invalid-message = Please check what you entered.
