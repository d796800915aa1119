# The residents' pages: a new request, the list, one request and its history (English).

new-request-heading = Submit a new request
new-request-description = What is the problem?
new-request-description-example = For example: water is dripping from the bathroom ceiling. It may be the pipes upstairs.
new-request-location-hint = (optional, for example: building 101, flat 1203, bathroom)
new-request-photo-hint = (optional; JPEG, PNG, WebP or GIF, up to { $megabytes } MB)
new-request-submit = Submit
new-request-invalid = Please write a description of 1 to 5,000 characters, and a location and contact of at most 200 characters each.
new-request-bad-photo = Photos can be JPEG, PNG, WebP or GIF files only.
new-request-too-often = You have sent requests too often. Please send it again in { $seconds ->
        [one] 1 second
       *[other] { $seconds } seconds
    }. What you wrote is kept.

my-requests-title = My requests
my-requests-empty = You have not submitted any requests yet.

request-title = Request #{ $id }
request-photo-alt = Photo of request #{ $id }
request-photo-elsewhere = See the photo (kept by the previous system)
request-deleted-notice = This request has been deleted.

delete-request-title = Delete request #{ $id }
delete-request-question = Do you really want to delete this request? This cannot be undone.

history-title = History
history-none = none
history-created = Submitted
history-status-changed = Status changed: { $old } → { $new }
history-category-by-staff = Category changed (staff): { $old } → { $new }
history-category-by-ai = Category changed (AI): { $old } → { $new }
history-priority-by-staff = Priority changed (staff): { $old } → { $new }
history-priority-by-ai = Priority changed (AI): { $old } → { $new }
history-deleted = Deleted

flash-request-submitted = Your request has been submitted.
flash-request-deleted = The request has been deleted.
flash-too-late-to-delete = Work on this request has already started, so it can no longer be deleted. To cancel it, please contact the management office.
