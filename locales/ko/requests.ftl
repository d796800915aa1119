# The residents' pages: a new request, the list, one request and its history (Korean).

new-request-heading = 새 요청 접수
new-request-description = 무엇이 문제인가요?
new-request-description-example = 예: 욕실 천장에서 물이 떨어져요. 윗집 배관 문제 같아요.
new-request-location-hint = (선택, 예: 101동 1203호 욕실)
new-request-photo-hint = (선택, JPEG·PNG·WebP·GIF, 최대 { $megabytes }MB)
new-request-submit = 접수하기
new-request-invalid = 설명은 1~5,000자, 위치와 연락처는 200자 이내로 적어 주세요.
new-request-bad-photo = 사진은 JPEG, PNG, WebP, GIF 파일만 올릴 수 있습니다.
new-request-too-often = 요청을 너무 자주 보내셨습니다. { $seconds }초 뒤에 다시 보내 주세요. 적은 내용은 그대로 있습니다.

my-requests-title = 내 요청
my-requests-empty = 아직 접수한 요청이 없습니다.

request-title = 요청 #{ $id }
request-photo-alt = 요청 #{ $id } 사진
request-photo-elsewhere = 사진 보기 (이전 시스템에 보관된 사진)
request-deleted-notice = 이 요청은 삭제되었습니다.

delete-request-title = 요청 #{ $id } 삭제
delete-request-question = 정말 이 요청을 삭제하시겠습니까? 삭제하면 되돌릴 수 없습니다.

history-title = 처리 기록
history-none = 없음
history-created = 접수되었습니다
history-status-changed = 상태 변경: { $old } → { $new }
history-category-by-staff = 분류 변경(관리자): { $old } → { $new }
history-category-by-ai = 분류 변경(AI): { $old } → { $new }
history-priority-by-staff = 긴급도 변경(관리자): { $old } → { $new }
history-priority-by-ai = 긴급도 변경(AI): { $old } → { $new }
history-deleted = 삭제되었습니다

flash-request-submitted = 요청이 접수되었습니다.
flash-request-deleted = 요청을 삭제했습니다.
flash-too-late-to-delete = 이미 처리가 시작되어 삭제할 수 없습니다. 취소가 필요하면 관리사무소에 문의해 주세요.
