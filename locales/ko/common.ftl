# The layout, the labels and what every page shares (Korean, the default).
# Each message here has its twin in ../en/common.ftl; a unit test fails when one is missing.

language-name = 한국어
# How dates and times are written (chrono's strftime), on the residents' clock (KST).
format-datetime = %Y-%m-%d %H:%M

site-name-default = 건물 유지보수
emergency-default = 가스 냄새·화재·갇힘 등 위급 상황은 즉시 119 또는 관리사무소로 전화하세요
emergency-label = 위급 상황

nav-skip = 본문으로 건너뛰기
nav-label = 주 메뉴
nav-new-request = 새 요청
nav-my-requests = 내 요청
nav-admin = 관리자
nav-users = 사용자 관리
nav-account = 내 정보
nav-logout = 로그아웃
nav-login = 로그인
nav-register = 회원가입

footer-note = 문제가 생기면 바로 알려 주세요. 관리사무소가 확인합니다.
footer-logout-everywhere = 모든 기기에서 로그아웃
footer-language = 언어

action-delete = 삭제
action-cancel = 취소
action-save = 저장
action-search = 검색
action-new-request = 새 요청 접수하기
action-back-to-list = 목록으로
action-delete-request = 요청 삭제

field-email = 이메일
field-password = 비밀번호
field-name = 이름
field-role = 역할
field-location = 위치
field-contact = 연락처
field-photo = 사진
field-submitted = 접수
field-status = 상태
field-category = 분류
field-priority = 긴급도
hint-optional = (선택)
filter-all = 전체

pager-label = 페이지
pager-prev = ← 이전
pager-next = 다음 →
list-total = 전체 { $total }건
list-total-at-least = { $total }건 이상

status-pending = 대기중
status-in_progress = 진행중
status-completed = 완료
category-electrical = 전기
category-plumbing = 배관
category-hvac = 냉난방
category-structural = 구조
category-other = 기타
priority-high = 높음
priority-medium = 보통
priority-low = 낮음
role-user = 입주민
role-admin = 관리자
role-super_admin = 최고 관리자
badge-refining = AI 분류 중…

error-home = 처음으로
error-csrf-title = 요청을 확인할 수 없습니다
error-csrf-message = 보안 토큰이 맞지 않습니다. 페이지를 새로고침한 뒤 다시 시도해 주세요.
error-forbidden-title = 접근 권한이 없습니다
error-forbidden-message = 이 페이지를 보거나 이 작업을 할 권한이 없습니다.
error-not-found-title = 페이지를 찾을 수 없습니다
error-not-found-message = 주소가 바뀌었거나 삭제된 요청일 수 있습니다.
error-too-large-title = 파일이 너무 큽니다
error-too-large-message = 더 작은 사진을 올려 주세요.
error-too-many-title = 잠시 후 다시 시도해 주세요
error-too-many-message = 짧은 시간에 너무 많은 시도가 있었습니다.
error-server-title = 일시적인 문제가 생겼습니다
error-server-message = 잠시 후 다시 시도해 주세요. 문제가 계속되면 관리사무소에 알려 주세요.
error-invalid-title = 요청을 처리할 수 없습니다
error-invalid-message = 입력한 내용을 확인해 주세요.
